"""Run directories cannot collide: a directory in use is refused, a used one needs overwrite=true (which clears
the old outputs), and last.ckpt is the final model whatever the validation cadence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_runs import FAST


def test_a_directory_in_use_is_refused_naming_the_holder(tmp_path):
    import os

    from pinnkit.rundir import RunDirError, claim

    in_use = rf"in use by another run \(pid {os.getpid()} on .*hydra\.run\.dir"
    with claim(tmp_path, resuming_here=False, overwrite=False), pytest.raises(RunDirError, match=in_use):
        train(compose_cfg(tmp_path, *FAST, "trainer.max_steps=2"))
    assert not (tmp_path / "summary.json").exists()


def test_a_fresh_run_into_a_used_directory_needs_overwrite_which_clears_the_old_outputs(tmp_path):
    from pinnkit.rundir import RunDirError

    train(compose_cfg(tmp_path, *FAST, "trainer.max_steps=4", "trainer.val_check_interval=1"))
    assert len(list((tmp_path / "plots").glob("solution_step*.png"))) == 4
    with pytest.raises(RunDirError, match=r"holds an earlier run's outputs \['checkpoints', 'csv', 'plots'.*overwrite"):
        train(compose_cfg(tmp_path, *FAST, "trainer.max_steps=4", "trainer.val_check_interval=2"))
    summary = train(compose_cfg(tmp_path, *FAST, "trainer.max_steps=4", "trainer.val_check_interval=2",
                                "overwrite=true"))  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "plots").glob("*.png")) == [
        "losses.png", "slices_step0000002.png", "slices_step0000004.png", "solution_step0000002.png",
        "solution_step0000004.png"]  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert len(list((tmp_path / "csv").iterdir())) == 1 and summary["steps"] == 4


def test_last_ckpt_is_the_final_model_whatever_the_validation_cadence(tmp_path):
    from pinnkit.predict import load

    summary = train(compose_cfg(tmp_path, *FAST, "trainer.max_steps=7", "trainer.val_check_interval=5"))
    module = load(tmp_path / "checkpoints" / "last.ckpt")
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 7
    sol = np.load(tmp_path / "solution.npz")
    grid = np.stack(np.meshgrid(sol["t"], sol["x"], indexing="ij"), -1).reshape(-1, 2)
    pred = module.net(torch.as_tensor(grid, dtype=module.dtype)).detach().numpy().reshape(sol["u_pred"].shape)
    np.testing.assert_allclose(pred, sol["u_pred"], rtol=1e-6, atol=1e-7)  # the model the summary reports
    err = np.sqrt(((pred - sol["u_ref"]) ** 2).sum() / (sol["u_ref"] ** 2).sum())
    assert err == pytest.approx(summary["val/l2_rel"], rel=1e-4)
    assert json.loads((tmp_path / "summary.json").read_text())["last_checkpoint"].endswith("last.ckpt")
