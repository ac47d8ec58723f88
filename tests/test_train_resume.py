"""Interrupt a run mid-phase, ``--resume`` it, and reach the uninterrupted run's weights."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from critnet.errors import InputError
from critnet.train import TrainConfig, Trainer
from critnet.train.checkpoint import load_checkpoint
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs
from critnet.weights import load_weights

CONFIG = {
    "model": {"preset": "lite", "overrides": {"channels": 8, "growth": 8}},
    "data": {"crop": 24},
    # 3 steps per epoch, blocks of 2 epochs: M1 steps 1-6, S 7-12, M2 13-15
    "schedule": {"epochs": 5, "phase_len": 2, "batch_size": 2},
    "run": {"checkpoint_every": 4},
}


def trainer(out, *, resume=False, max_steps=None, config=CONFIG, deadline=None) -> Trainer:
    dataset = RoadSceneCrops(synthetic_pairs(5, 32, 36), crop=24)
    return Trainer(TrainConfig.from_dict(config), out, dataset=dataset, resume=resume,
                   max_steps=max_steps, progress=False, deadline=deadline)


def rows(out) -> list[dict[str, str]]:
    with (out / "log.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_resume_mid_phase_matches_uninterrupted_run(tmp_path):
    straight = trainer(tmp_path / "straight")
    assert straight.run()["step"] == 15

    interrupted = trainer(tmp_path / "resumed", max_steps=9)  # stops in the middle of phaseS
    interrupted.run()
    # simulate a crash after the checkpoint at step 9: a later row in the log, no checkpoint
    with (tmp_path / "resumed" / "log.csv").open("a") as handle:
        handle.write("10,3,1,S" + "," * 19 + "\n")
    payload = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert payload["step"] == 9 and payload["sampler"] == {"seed": 0, "epoch": 3, "position": 0}
    # optimizer A (phaseM stage 1, block 0) never steps again after step 6: not stored
    assert set(payload["optimizers"]) == {"B", "C", "D"}
    early = trainer(tmp_path / "early", max_steps=2)
    early.run()
    assert set(load_checkpoint(tmp_path / "early" / "checkpoint.pt")["optimizers"]) == {
        "A", "B", "C", "D"}

    resumed = trainer(tmp_path / "resumed", resume=True)
    assert resumed.step == 9
    assert resumed.run()["steps_run"] == 6

    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=1e-6)
    for name in ("B", "C", "D"):  # every optimizer that stepped after the checkpoint
        state = straight.optimizers[name].state_dict()["state"]
        assert state, name
        other = resumed.optimizers[name].state_dict()["state"]
        assert set(other) == set(state), name
        for index in state:
            torch.testing.assert_close(other[index]["exp_avg"], state[index]["exp_avg"],
                                       rtol=0, atol=1e-6)
    a, b = rows(tmp_path / "straight"), rows(tmp_path / "resumed")
    assert [r["step"] for r in b] == [str(i) for i in range(1, 16)]
    for ra, rb in zip(a, b, strict=True):
        assert ra["phase"] == rb["phase"]
        assert float(ra["total"]) == pytest.approx(float(rb["total"]), rel=1e-5)

    # exported weights: final, and one file per finished block
    out = tmp_path / "resumed"
    assert {p.name for p in out.glob("*.safetensors")} == {
        "weights.safetensors", "block0.safetensors", "block1.safetensors", "block2.safetensors"}
    model = load_weights(out / "weights.safetensors")
    torch.testing.assert_close(model.state_dict(), resumed.model.state_dict())
    assert (out / "losses.png").stat().st_size > 0


def test_refuses_to_overwrite_or_resume_with_another_config(tmp_path):
    trainer(tmp_path, max_steps=1).run()
    with pytest.raises(InputError, match="--resume"):
        trainer(tmp_path)
    other = {**CONFIG, "loss": {"lambda_jg": 1}}
    with pytest.raises(InputError, match=r"different config \(loss\.lambda_jg: 20\.0 -> 1"):
        trainer(tmp_path, resume=True, config=other)


def test_resumes_a_checkpoint_written_before_an_option_existed(tmp_path):
    """A checkpoint whose saved config lacks later options (here ``m2_sipria_grad`` and the
    ``run`` options of the GPU work) resumes when they are at their defaults, and is refused
    when they are not."""
    from critnet.train.checkpoint import save_checkpoint

    trainer(tmp_path, max_steps=1).run()
    path = tmp_path / "checkpoint.pt"
    payload = load_checkpoint(path)
    del payload["config"]["schedule"]["m2_sipria_grad"]
    for key in ("log_every", "precision", "memory_format"):
        del payload["config"]["run"][key]
    save_checkpoint(path, {k: v for k, v in payload.items() if k not in ("format", "version")})
    assert trainer(tmp_path, resume=True).step == 1
    detached = {**CONFIG, "schedule": {**CONFIG["schedule"], "m2_sipria_grad": "detached"}}
    with pytest.raises(InputError, match="different config"):
        trainer(tmp_path, resume=True, config=detached)


def test_weights_saved_before_the_first_stage2_step_fuse_with_fuse0(tmp_path):
    """block0/block1 snapshots and a --max-steps stop before phaseM stage 2 have an untrained
    D_fuse: their files record decoder=fuse0 and load fusing with D_fuse0."""
    from critnet.weights import read_metadata

    run = trainer(tmp_path, max_steps=12)  # M1 steps 1-6, S 7-12: stops at the end of block 1
    run.run()
    for name in ("block0", "block1", "weights"):
        assert read_metadata(tmp_path / f"{name}.safetensors")["decoder"] == "fuse0", name
    loaded = load_weights(tmp_path / "weights.safetensors")
    assert loaded.default_decoder == "fuse0"
    ir, vis = torch.rand(1, 1, 16, 12), torch.rand(1, 1, 16, 12)
    run.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(ir, vis), run.model(ir, vis, decoder="fuse0"))

    trainer(tmp_path, resume=True, max_steps=13).run()  # one stage-2 step trains D_fuse
    assert read_metadata(tmp_path / "weights.safetensors")["decoder"] == "fuse"
    assert load_weights(tmp_path / "weights.safetensors").default_decoder == "fuse"


def test_train_without_data_says_where_the_data_must_be(capsys, tmp_path, monkeypatch):
    from fusing_helpers import run_cli

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("CRITNET_DATA", str(empty))
    config = Path(__file__).resolve().parents[1] / "configs" / "cpu.yaml"
    code, _, err = run_cli(capsys, "train", "--config", config, "--out",
                           tmp_path / "run", "--no-progress")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(empty / "roadscene" / "subsets.csv") in lines[0]
    assert "CRITNET_DATA" in lines[0] and "data.root" in lines[0]

    code, out, _ = run_cli(capsys, "train", "--help")
    assert code == 0
    assert "CRITNET_DATA" in out and "data.root" in out and "roadscene" in out


def test_deadline_stop_and_chunked_log_resume_to_the_uninterrupted_run(tmp_path):
    """A run past its deadline stops at a checkpoint with the weights exported; resumed with the
    loss terms fetched every 5 steps it ends where a run logging every step ends, with the
    same log rows."""
    import time

    chunked = {**CONFIG, "run": {"checkpoint_every": 4, "log_every": 5}}
    straight = trainer(tmp_path / "straight")
    straight.run()

    out = tmp_path / "stopped"
    summary = trainer(out, config=chunked, deadline=time.monotonic()).run()
    assert summary["stopped_at_deadline"] and summary["step"] == 1
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 1
    assert (out / "weights.safetensors").is_file() and [r["step"] for r in rows(out)] == ["1"]
    resumed = trainer(out, config=chunked, resume=True)
    summary = resumed.run()
    assert summary["step"] == 15 and not summary["stopped_at_deadline"]
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=1e-6)
    a, b = rows(tmp_path / "straight"), rows(out)
    assert [r["step"] for r in b] == [str(i) for i in range(1, 16)]
    for ra, rb in zip(a, b, strict=True):
        assert ra["phase"] == rb["phase"]
        for key in ("total", "mit", "inter", "ir_sipria"):
            assert (ra[key] == "") == (rb[key] == "")
            if ra[key]:
                assert float(ra[key]) == pytest.approx(float(rb[key]), rel=1e-5)
