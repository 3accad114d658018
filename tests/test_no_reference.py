"""A PDE without a reference solution trains: validation scores the held-out residuals (``val/loss``), the best
checkpoint, the sweepers' objective and the printed result follow it, and the prediction is written and plotted
alone. The membrane on the disk, whose solution pinnkit does not know, checks such a run against the answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pinnkit.pdes import Membrane, Poisson
from pinnkit.points import ValidationSet
from pinnkit.train import run, train
from tests.conftest import compose_cfg
from tests.test_train import SHORT, read_metrics


def test_a_pde_says_whether_it_has_a_reference():
    assert Poisson().has_reference and not Membrane().has_reference
    val = ValidationSet.grid(Membrane(n=11), 16, 0, torch.float64, torch.device("cpu"))
    assert val.reference is None and val.points.shape[1] == 2 and val.residual_points.shape == (16, 2)
    with pytest.raises(ValueError, match=r"membrane: unknown geometry 'ring'; valid: \('square', 'lshape', 'disk'\)"):
        Membrane(geometry="ring")


def test_a_pde_without_a_reference_trains_and_writes_its_prediction(tmp_path):
    cfg = compose_cfg(tmp_path, "pde=membrane", "pde.n=21", "derivative=taylor", *SHORT)
    summary = train(cfg)
    assert summary["objective"] == "val/loss" and "val/l2_rel" not in summary
    assert math.isfinite(summary["val/loss"]) and summary["val/loss"] == pytest.approx(summary["val/loss_pde"])
    assert any(row.get("val/loss") for row in read_metrics(tmp_path))
    sol = np.load(tmp_path / "solution.npz")
    assert "u_ref" not in sol and "l2_rel" not in sol and sol["u_pred"].shape == (21, 21)
    outside = (sol["x"][:, None] > 0) & (sol["y"][None, :] > 0)  # the L-shape's missing quarter: NaN
    assert np.isnan(sol["u_pred"][outside]).all() and np.isfinite(sol["u_pred"][~outside]).all()
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()
    assert sorted((tmp_path / "plots").glob("solution_step*.png"))


def test_the_command_returns_the_held_out_residual_loss_as_its_objective(tmp_path):
    cfg = compose_cfg(tmp_path, "pde=membrane", "pde.n=11", "derivative=taylor", *SHORT)
    value = run(cfg)
    assert value == json.loads((tmp_path / "summary.json").read_text())["val/loss"]


def test_without_a_reference_the_disk_membrane_still_gets_the_known_answer(tmp_path):
    """On the unit disk the membrane's solution is ``(1 - r²)/4`` (never given to pinnkit): trained on residuals
    alone, the prediction matches it."""
    cfg = compose_cfg(tmp_path, "pde=membrane", "pde.geometry=disk", "pde.n=41", "derivative=taylor", "optim=adam",
                      "optim.optimizer.lr=1e-2", "trainer.max_steps=300", "trainer.val_check_interval=300",
                      "trainer.enable_progress_bar=false", "model.width=16", "model.depth=2",
                      "data.points.interior=512", "trainer.precision=64")  # fmt: skip
    train(cfg)
    sol = np.load(tmp_path / "solution.npz")
    r2 = sol["x"][:, None] ** 2 + sol["y"][None, :] ** 2
    inside = np.isfinite(sol["u_pred"])
    exact = (1 - r2[inside]) / 4
    err = np.linalg.norm(sol["u_pred"][inside] - exact) / np.linalg.norm(exact)
    assert err < 1e-2, err
