"""Run features: exact resume, checkpoint errors, the non-finite guard, gradient clipping, prediction, outputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from pinnkit.checkpoints import CheckpointError
from pinnkit.predict import load, predict
from pinnkit.train import train
from pinnkit.training.guard import NonFiniteLossError
from tests.conftest import compose_cfg, nan_loss_on, predict_cli

FAST = ["trainer.enable_progress_bar=false", "model.width=8", "model.depth=2", "trainer.log_every_n_steps=1",
        "data.points.interior=64", "data.points.initial=16", "data.points.boundary=16",
        "data.val_points=64"]  # fmt: skip


def _losses(run_dir) -> dict[int, float]:
    (path,) = run_dir.glob("csv/*/metrics.csv")
    with open(path) as f:
        return {int(r["step"]): float(r["train/loss"]) for r in csv.DictReader(f) if r.get("train/loss")}


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tmp_path):
    common = [*FAST, "trainer.precision=64", "trainer.val_check_interval=10", "optim.scheduler.step_size=7"]
    full = tmp_path / "full"
    train(compose_cfg(full, *common, "trainer.max_steps=20"))
    part = tmp_path / "part"
    train(compose_cfg(part, *common, "trainer.max_steps=10"))
    resumed = tmp_path / "resumed"
    summary = train(compose_cfg(resumed, *common, "trainer.max_steps=20", f"ckpt_path={part}/checkpoints/last.ckpt"))
    assert summary["steps"] == 20
    a, b = _losses(full), _losses(resumed)
    assert set(range(10, 20)) <= set(b)
    for step in range(10, 20):
        assert abs(a[step] - b[step]) <= 1e-12 * max(1.0, abs(a[step])), (step, a[step], b[step])


def test_bad_checkpoints_get_clear_errors(tmp_path):
    run = tmp_path / "run"
    train(compose_cfg(run, *FAST, "trainer.max_steps=4", "trainer.val_check_interval=2"))
    ckpt = run / "checkpoints" / "last.ckpt"
    with pytest.raises(CheckpointError, match="does not exist"):
        train(compose_cfg(tmp_path / "a", *FAST, f"ckpt_path={tmp_path}/nope.ckpt"))
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt"):
        train(compose_cfg(tmp_path / "b", *FAST, f"ckpt_path={bad}"))
    with pytest.raises(CheckpointError, match="does not fit this run's network"):
        train(compose_cfg(tmp_path / "c", *FAST, "model.width=12", f"ckpt_path={ckpt}"))
    assert not (tmp_path / "c" / "summary.json").exists()


def test_nonfinite_loss_stops_with_term_and_step(tmp_path, monkeypatch):
    from pinnkit.pdes import Heat

    real = Heat.residual
    monkeypatch.setattr(Heat, "residual", lambda self, d, x: real(self, d, x) * (float("nan") if x.shape[0] else 1))
    cfg = compose_cfg(tmp_path, *FAST, "trainer.max_steps=6", "trainer.val_check_interval=3", "checks=false")
    with pytest.raises(NonFiniteLossError, match=r"term 'pde' \(from step 0\); first bad step 0"):
        train(cfg)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stopped"] == "nonfinite" and "first bad step 0" in summary["stop_message"]


def test_nonfinite_skip_takes_no_step_on_bad_batches(tmp_path, monkeypatch):
    nan_loss_on(monkeypatch, lambda step: step % 2 == 0)  # the pde loss is NaN on even steps
    summary = train(compose_cfg(tmp_path, *FAST, "trainer.max_steps=6", "trainer.val_check_interval=3",
                                "nonfinite=skip", "checks=false"))  # fmt: skip
    assert summary["stopped"] is None and summary["steps"] == 6
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values())  # NaN steps took no optimizer step
    losses = _losses(tmp_path)  # bad steps are logged as they were (NaN); the steps between train normally
    assert all(np.isfinite(v) for step, v in losses.items() if step % 2) and not np.isfinite(losses[0])


def test_gradient_clipping_by_config(tmp_path, monkeypatch):
    from pinnkit.training import PINNModule

    norms = []
    real = PINNModule.clip_gradients

    def spy(self, opt, **kw):
        real(self, opt, **kw)
        norms.append(
            torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in self.parameters() if p.grad is not None]))
        )

    monkeypatch.setattr(PINNModule, "clip_gradients", spy)
    summary = train(compose_cfg(tmp_path, *FAST, "trainer.max_steps=3", "trainer.val_check_interval=3",
                                "optim.grad_clip=1e-3"))  # fmt: skip
    assert summary["config"]["optim"]["grad_clip"] == 1e-3
    assert len(norms) == 3 and all(n <= 1e-3 * (1 + 1e-5) for n in norms)


def test_adam_then_lbfgs_both_count_and_lbfgs_iterates(tmp_path, monkeypatch):
    from pinnkit.training import PINNModule

    seen = {}
    real = PINNModule.on_train_end
    monkeypatch.setattr(
        PINNModule, "on_train_end", lambda self: seen.update(calls=self.phases.closure_calls) or real(self)
    )
    summary = train(compose_cfg(tmp_path, *FAST, "optim=adam_lbfgs", "optim.second_from=6", "trainer.max_steps=10",
                                "trainer.val_check_interval=5"))  # fmt: skip
    assert summary["steps"] == 10  # 6 Adam + 4 L-BFGS steps
    assert seen["calls"] > 4  # L-BFGS evaluated its closure several times per step (line search, iterations)
    losses = _losses(tmp_path)
    assert losses[9] < losses[6]


def test_outputs_predict_and_cli(tmp_path, capsys):
    train(compose_cfg(tmp_path, *FAST, "trainer.max_steps=4", "trainer.val_check_interval=2"))
    assert sorted(p.name for p in (tmp_path / "plots").glob("*.png")) == [
        "losses.png", "slices_step0000002.png", "slices_step0000004.png", "solution_step0000002.png",
        "solution_step0000004.png"]  # fmt: skip
    sol = np.load(tmp_path / "solution.npz")
    assert sol["u_pred"].shape == sol["u_ref"].shape == (101, 201) and sol["x"].shape == (201,)
    err = sol["u_pred"] - sol["u_ref"]
    assert np.isclose(sol["l2_rel"], np.sqrt((err**2).sum() / (sol["u_ref"] ** 2).sum()))
    assert sol["l2_rel_u"] == sol["l2_rel"] and sol["linf"] == np.abs(err).max()
    module = load(tmp_path / "checkpoints" / "last.ckpt")
    x = torch.rand(7, 2)
    d = predict(module, x, ("u", "u_x", "u_xx"))
    torch.testing.assert_close(d["u"], module.net(x)[:, 0].detach())
    assert d["u_xx"].shape == (7,) and not d["u_xx"].requires_grad
    np.save(tmp_path / "pts.npy", x.numpy())
    # python -m pinnkit.predict ARGS, in-process (the module's entry point runs as a process in test_messages)
    code, _, err = predict_cli(capsys, str(tmp_path / "checkpoints" / "last.ckpt"), str(tmp_path / "pts.npy"),
                               "--needs", "u", "u_t", "--out", str(tmp_path / "p.npz"))  # fmt: skip
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "p.npz")["u"], d["u"].numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        predict(module, torch.rand(3, 3))
