"""Training on folders of pairs (issue 21): resume bit-identical, two gloo ranks, validation and
best weights, the CLI end to end."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap

import pytest
import torch
import yaml
from fusing_helpers import run_cli
from train_data_helpers import tiny_config, write_folder

from critnet.train import TrainConfig, Trainer
from critnet.train.validation import VAL_METRICS, best_row
from critnet.weights import load_weights, read_metadata


def folder_config(ir_dir, vis_dir, **data) -> TrainConfig:
    return TrainConfig.from_dict(tiny_config(sources=[{"ir": str(ir_dir), "vis": str(vis_dir)}],
                                             **data))


def read_csv(path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("loading", ["preload", "stream"])
def test_resume_on_a_folder_source_is_bit_identical(data_dir, tmp_path, loading):
    ir_dir, vis_dir = write_folder(data_dir, tmp_path / "pairs", 7)
    config = folder_config(ir_dir, vis_dir, loading=loading, val_fraction=0.3,
                           workers=1 if loading == "stream" else 0)

    def trainer(out, **kwargs) -> Trainer:
        return Trainer(config, out, progress=False, **kwargs)

    straight = trainer(tmp_path / "straight")
    assert straight.data.streamed == (loading == "stream")
    assert straight.run()["step"] == straight.total_steps
    trainer(tmp_path / "resumed", max_steps=straight.total_steps // 2 + 1).run()  # mid-block
    resumed = trainer(tmp_path / "resumed", resume=True)
    resumed.run()
    for name, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name
    a, b = read_csv(tmp_path / "straight" / "log.csv"), read_csv(tmp_path / "resumed" / "log.csv")
    assert [r["total"] for r in a] == [r["total"] for r in b]
    assert read_csv(tmp_path / "straight" / "val.csv") == read_csv(tmp_path / "resumed" / "val.csv")


def test_validation_rows_best_weights_and_metadata(data_dir, tmp_path):
    ir_dir, vis_dir = write_folder(data_dir, tmp_path / "pairs", 6)
    val_ir, val_vis = write_folder(data_dir, tmp_path / "val", 2, first=6)
    config = TrainConfig.from_dict(tiny_config(
        sources=[{"ir": str(ir_dir), "vis": str(vis_dir)}],
        val_sources=[{"ir": str(val_ir), "vis": str(val_vis)}]))
    out = tmp_path / "run"
    summary = Trainer(config, out, progress=False).run()
    rows = read_csv(out / "val.csv")
    assert [(r["block"], r["phase"], r["decoder"]) for r in rows] == [
        ("0", "M1", "fuse0"), ("1", "S", "fuse0"), ("2", "M2", "fuse")]
    assert all(r["pairs"] == "2" and float(r["Qabf"]) > 0 for r in rows)
    best = best_row(rows)
    assert summary["best"] == best
    best_file = out / "best.safetensors"
    assert best_file.read_bytes() == (out / f"block{best['block']}.safetensors").read_bytes()
    meta = read_metadata(out / "weights.safetensors")
    data = json.loads(meta["data"])
    assert data["pairs"] == {"train": 6, "validation": 2, "validation_scored": 2, "unusable": 0}
    assert data["sources"][0]["ir"] == str(ir_dir) and data["val_sources"][0]["vis"] == str(val_vis)
    assert json.loads(meta["schedule"])["blocks"] == ["M1", "S", "M2"]
    assert (out / "losses.png").stat().st_size > 0


def test_best_is_the_lowest_mean_rank_then_the_higher_qabf():
    def row(block, qabf, ssim, en, qcv):
        return {"step": str(10 * (block + 1)), "block": str(block),
                **dict(zip(VAL_METRICS, map(str, (qabf, ssim, en, qcv)), strict=True))}

    init = row(-1, 0.9, 2.0, 8.0, 1.0)  # the --init row is never "best"
    rows = [init, row(0, 0.5, 1.4, 6.0, 500), row(1, 0.6, 1.3, 6.5, 400),
            row(2, 0.4, 1.5, 7.0, 600)]
    # ranks (Qabf, SSIM, EN, Qcv↓): block 0: 2,2,3,2 = 2.25; 1: 1,3,2,1 = 1.75; 2: 3,1,1,3 = 2
    assert best_row(rows)["block"] == "1"
    tie = [row(0, 0.5, 1.4, 6.0, 500), row(1, 0.6, 1.3, 6.0, 500)]  # 1.5 vs 1.5 → higher Qabf
    assert best_row(tie)["block"] == "1" and best_row([init]) is None


WORKER = textwrap.dedent('''
    import sys
    from pathlib import Path

    import torch
    import yaml

    from critnet.train import TrainConfig, Trainer
    from critnet.train.distributed import init_distributed, shutdown

    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    context, device = init_distributed("cpu")
    config = TrainConfig.from_dict(yaml.safe_load(Path(sys.argv[2]).read_text()))
    trainer = Trainer(config, out, device=device, context=context, progress=False)
    torch.save(trainer._indices(0, 0), out / f"indices{context.rank}.pt")
    trainer.run()
    torch.save(trainer.model.state_dict(), out / f"rank{context.rank}.pt")
    shutdown(context)
''')


def test_two_gloo_ranks_on_a_streamed_folder_keep_identical_weights(data_dir, tmp_path):
    ir_dir, vis_dir = write_folder(data_dir, tmp_path / "pairs", 8)
    config = tiny_config(sources=[{"ir": str(ir_dir), "vis": str(vis_dir)}], loading="stream",
                         workers=1)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "worker.py").write_text(WORKER)
    out = tmp_path / "run"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(tmp_path / "worker.py"), str(out), str(tmp_path / "config.yaml")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name, value in first.items():
        assert torch.equal(value, second[name]), name
    assert set(torch.load(out / "indices0.pt")).isdisjoint(torch.load(out / "indices1.pt"))
    # 8 pairs / 2 ranks / batch 2 = 2 steps per epoch, 3 epochs: rank 0 logged all six
    assert len(read_csv(out / "log.csv")) == 6


def test_cli_fine_tunes_lite_on_a_folder_end_to_end(data_dir, tmp_path, capsys):
    ir_dir, vis_dir = write_folder(data_dir, tmp_path / "pairs", 12)
    lonely = ir_dir / "lonely.png"
    lonely.write_bytes((ir_dir / next(iter(sorted(p.name for p in ir_dir.iterdir())))).read_bytes())
    base = tmp_path / "small.yaml"  # lite itself, small crops and batches to stay fast
    base.write_text(yaml.safe_dump({"data": {"crop": 32, "workers": 0},
                                    "schedule": {"batch_size": 4}}))
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(capsys, "train", "--ir", ir_dir, "--vis", vis_dir, "--out",
                                   out, "--init", "lite", "--epochs", "3", "--val", "0.25",
                                   "--config", base, "--no-progress")
    assert code == 0, stderr
    lines = stderr.strip().splitlines()
    assert lines[0] == f"skipped: {lonely}: IR file without a visible partner"
    assert lines[1].startswith("data: ") and "1 file(s)/pair(s) unusable" in lines[1]
    assert "best: block " in stdout and str(out / "best.safetensors") in stdout
    rows = read_csv(out / "val.csv")
    assert [r["phase"] for r in rows] == ["init", "M2", "S", "M2"]
    assert all(r["decoder"] == "fuse" for r in rows)
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["model"]["init"] == "lite" and resolved["model"]["preset"] == "lite"
    assert resolved["schedule"]["start"] == "finetune" and resolved["data"]["val_fraction"] == 0.25
    lite = load_weights("lite").state_dict()
    tuned = load_weights(out / "weights.safetensors").state_dict()
    assert set(lite) == set(tuned)
    assert not torch.equal(lite["decoder_fuse.body.0.weight"], tuned["decoder_fuse.body.0.weight"])
    # the starting point was lite: the init row scores lite itself
    assert read_metadata(out / "weights.safetensors")["decoder"] == "fuse"


def test_cli_refuses_in_one_line_strict_and_without_roadscene(data_dir, tmp_path, capsys,
                                                              monkeypatch):
    ir_dir, vis_dir = write_folder(data_dir, tmp_path / "pairs", 4)
    (ir_dir / "lonely.png").write_bytes(b"not an image")
    code, _, stderr = run_cli(capsys, "train", "--ir", ir_dir, "--vis", vis_dir, "--out",
                              tmp_path / "run", "--strict", "--val", "0", "--no-progress")
    errors = [line for line in stderr.splitlines() if line.startswith("critnet: error:")]
    assert code == 2 and len(errors) == 1 and "--strict" in errors[0], stderr
    assert not (tmp_path / "run").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("CRITNET_DATA", str(empty))
    config = tmp_path / "roadscene.yaml"
    config.write_text(yaml.safe_dump(tiny_config()))
    code, _, stderr = run_cli(capsys, "train", "--config", config, "--no-progress")
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert "critnet data fetch roadscene" in stderr
