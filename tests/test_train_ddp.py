"""Two CPU processes under torchrun (gloo): gradients averaged, both ranks end identical."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import torch

from critnet.model import build_model

WORKER = textwrap.dedent('''
    import sys
    from pathlib import Path

    import torch

    from critnet.train.data.roadscene import RoadSceneCrops
    from critnet.train.data.synthetic import synthetic_pairs
    from critnet.train import TrainConfig, Trainer
    from critnet.train.distributed import init_distributed, shutdown

    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    context, device = init_distributed("cpu")
    config = TrainConfig.from_dict({
        "model": {"preset": "lite", "overrides": {"channels": 8, "growth": 8}},
        "data": {"crop": 24},
        "schedule": {"epochs": 3, "phase_len": 1, "batch_size": 2},
        "run": {"checkpoint_every": 100},
    })
    dataset = RoadSceneCrops(synthetic_pairs(8, 32, 36), crop=24)
    trainer = Trainer(config, out, device=device, context=context, dataset=dataset,
                      progress=False)
    # different ranks see different crops of the epoch
    torch.save(trainer._indices(0, 0), out / f"indices{context.rank}.pt")
    trainer.run()
    torch.save(trainer.model.state_dict(), out / f"rank{context.rank}.pt")
    shutdown(context)
''')


def test_two_gloo_ranks_keep_identical_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "run"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(out)],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name, value in first.items():
        assert torch.equal(value, second[name]), name
    assert set(torch.load(out / "indices0.pt")).isdisjoint(torch.load(out / "indices1.pt"))
    # 8 pairs / 2 ranks / batch 2 = 2 steps per epoch, 3 epochs (M1, S, M2): rank 0 logged all
    log = (out / "log.csv").read_text().splitlines()
    assert len(log) == 1 + 6
    assert (out / "checkpoint.pt").is_file() and (out / "block2.safetensors").is_file()
    torch.manual_seed(0)
    initial = build_model("lite", channels=8, growth=8).state_dict()
    assert not torch.equal(initial["encoder_ir.stem.weight"], first["encoder_ir.stem.weight"])
