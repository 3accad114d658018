"""DDP with 2 CPU processes (gloo): trains, ranks stay in sync, and matches one process on the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["pde=heat", "logger=csv", "trainer.max_steps=8", "trainer.val_check_interval=4", "trainer.precision=64",
          "trainer.enable_progress_bar=false", "model.width=8", "model.depth=2", "data.points.interior=128",
          "data.points.initial=32", "data.points.boundary=32", "threads=1"]  # fmt: skip


def _train(out: Path, *extra: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "train.py", *COMMON, *extra, f"hydra.run.dir={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip  (a rank deadlock fails here)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


def _train_here(out: Path, *extra: str) -> dict:
    """The one-process reference run, in this process (one torch thread, as the DDP ranks)."""
    from pinnkit.train import train
    from tests.conftest import compose_cfg

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(compose_cfg(out, *COMMON, *extra))
    finally:
        torch.set_num_threads(threads)


def test_two_process_ddp_matches_one_process(tmp_path):
    ddp = _train(tmp_path / "ddp", "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu")
    one = _train_here(tmp_path / "one")
    assert ddp["world_size"] == 2 and ddp["ranks_in_sync"] is True and one["world_size"] == 1
    a = torch.load(tmp_path / "ddp" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "one" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    for k in b:
        torch.testing.assert_close(a[k], b[k], rtol=1e-9, atol=1e-11, msg=lambda m, k=k: f"{k}: {m}")
    assert abs(ddp["val/l2_rel"] - one["val/l2_rel"]) < 1e-9  # the grid split over ranks, sums reduced


def test_ranks_draw_disjoint_slices_of_one_global_batch(tmp_path):
    from types import SimpleNamespace

    from pinnkit.build import build
    from tests.conftest import compose_cfg

    module = build(compose_cfg(tmp_path, "pde.hard=false", "data.points.interior=10", "data.points.boundary=6"))
    whole = module.sample(3).points
    parts = []
    for rank in range(2):
        module._trainer = SimpleNamespace(world_size=2, global_rank=rank)
        parts.append(module.sample(3).points)
    module._trainer = None
    for name, pts in whole.items():
        assert parts[0][name].shape[0] + parts[1][name].shape[0] == pts.shape[0]
        torch.testing.assert_close(torch.cat([parts[0][name], parts[1][name]]).sort(0).values, pts.sort(0).values)
        assert not set(map(tuple, parts[0][name].tolist())) & set(map(tuple, parts[1][name].tolist()))


def test_lbfgs_under_ddp_takes_the_same_steps_on_every_rank(tmp_path):
    lbfgs = ["optim=adam_lbfgs", "optim.second_from=4", "optim.second.max_iter=5"]  # few iterations: round-off
    ddp = _train(tmp_path / "ddp", "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu", *lbfgs)
    _train_here(tmp_path / "one", *lbfgs)
    assert ddp["ranks_in_sync"] is True
    a = torch.load(tmp_path / "ddp" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "one" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    for k in b:
        torch.testing.assert_close(
            a[k], b[k], rtol=1e-5, atol=1e-7, msg=lambda m, k=k: f"{k}: {m}"
        )  # L-BFGS amplifies round-off


def test_ssbroyden_under_ddp_takes_the_same_steps_on_every_rank(tmp_path):
    """Adam, then SSBroyden: the closure returns the rank-averaged loss and DDP averages the gradients, so every
    rank's line search and inverse-Hessian update see one objective. The ranks stay bit-identical and follow one
    process on the same global batch (the grid split over ranks, sums reduced), through a resample of the second
    phase's points."""
    qn = ["optim=adam_ssbroyden", "optim.second_from=3", "optim.resample_every=2", "derivative=taylor"]
    ddp = _train(tmp_path / "ddp", "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu", *qn)
    one = _train_here(tmp_path / "one", *qn)
    assert ddp["world_size"] == 2 and ddp["ranks_in_sync"] is True and one["world_size"] == 1
    a = torch.load(tmp_path / "ddp" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "one" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    for k in b:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-8, msg=lambda m, k=k: f"{k}: {m}")
    assert abs(ddp["val/l2_rel"] - one["val/l2_rel"]) < 1e-5 * one["val/l2_rel"]
