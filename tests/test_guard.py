"""The non-finite guard has no holes: every step counts whatever the log cadence, no checkpoint holds NaN, the
message says truthfully which checkpoint is kept, and nonfinite=skip fails a run that did not train."""

from __future__ import annotations

import json
import re

import lightning as L
import pytest
import torch

from pinnkit.train import train
from tests.conftest import compose_cfg, nan_loss_on
from tests.test_runs import FAST


def _stopped(tmp_path, monkeypatch, nan_from: int, *overrides: str) -> tuple[str, dict]:
    """Train with the pde loss NaN from step ``nan_from`` on; the guard's message and the summary."""
    from pinnkit.training.guard import NonFiniteLossError

    nan_loss_on(monkeypatch, lambda step: step >= nan_from)
    with pytest.raises(NonFiniteLossError) as err:
        train(compose_cfg(tmp_path, *FAST, "checks=false", *overrides))
    return str(err.value), json.loads((tmp_path / "summary.json").read_text())


def _finite_checkpoints(run) -> dict[str, int]:
    out = {}
    for p in (run / "checkpoints").glob("*.ckpt"):
        ckpt = torch.load(p, weights_only=True)
        assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point()), p
        out[p.name] = ckpt["global_step"]
    return out


def test_log_every_n_steps_0_does_not_turn_the_guard_off(tmp_path, monkeypatch):
    msg, summary = _stopped(tmp_path, monkeypatch, 3, "trainer.log_every_n_steps=0", "trainer.max_steps=10",
                            "trainer.val_check_interval=5")  # fmt: skip
    assert "term 'pde' (from step 3); first bad step 3" in msg and "no checkpoint was written before it" in msg
    assert summary["stopped"] == "nonfinite" and summary["steps"] == 5  # read at the first validation
    assert _finite_checkpoints(tmp_path) == {} and summary["stop_message"] == msg


def test_validation_more_often_than_logging_never_checkpoints_nan_and_names_the_kept_one(tmp_path, monkeypatch):
    msg, _ = _stopped(tmp_path, monkeypatch, 5, "trainer.log_every_n_steps=50", "trainer.max_steps=20",
                      "trainer.val_check_interval=2")  # fmt: skip
    assert re.search(r"last checkpoint, .*\.ckpt \(step 4\), was written before it", msg), msg
    kept = _finite_checkpoints(tmp_path)
    assert kept["last.ckpt"] == 4 and kept["best.ckpt"] in (2, 4)


def test_nonfinite_parameters_with_finite_losses_are_caught_before_a_checkpoint(tmp_path):
    from pinnkit.training.guard import NonFiniteLossError

    class Corrupt(L.Callback):  # an optimizer step that overflowed: parameters NaN, the step's loss was finite
        def on_train_batch_end(self, trainer, module, *args):
            if trainer.global_step == 3:
                next(module.net.parameters()).data.fill_(float("nan"))

    cfg = compose_cfg(tmp_path, *FAST, "trainer.max_steps=9", "trainer.val_check_interval=3", "checks=false")
    with pytest.raises(NonFiniteLossError, match="non-finite parameters at step 3"):
        train(cfg, [Corrupt()])
    assert _finite_checkpoints(tmp_path) == {}


def test_nan_after_the_last_cadence_check_fails_the_run_and_keeps_last_ckpt_finite(tmp_path, monkeypatch):
    # after the only validation (step 5), before the end (step 9): read when fit returns
    msg, _ = _stopped(tmp_path, monkeypatch, 7, "trainer.log_every_n_steps=50", "trainer.max_steps=9",
                      "trainer.val_check_interval=5")  # fmt: skip
    assert "first bad step 7; training stopped at step 9" in msg
    assert _finite_checkpoints(tmp_path) == {"last.ckpt": 5, "best.ckpt": 5}


def test_skip_with_every_step_bad_fails_early_with_the_count(tmp_path, monkeypatch):
    msg, summary = _stopped(tmp_path, monkeypatch, 0, "nonfinite=skip", "trainer.max_steps=20",
                            "trainer.val_check_interval=50")  # fmt: skip
    assert "skipped 11 of 11 steps so far, more than nonfinite_skip_limit=0.5" in msg
    assert summary["stopped"] == "nonfinite" and summary["skipped_steps"] == 11 and summary["steps"] == 11


def test_skip_reports_the_skipped_count_and_passes_under_the_limit(tmp_path, monkeypatch):
    nan_loss_on(monkeypatch, lambda step: step % 4 == 1)  # one step in four is NaN
    summary = train(compose_cfg(tmp_path, *FAST, "nonfinite=skip", "trainer.max_steps=8",
                                "trainer.val_check_interval=4", "checks=false"))  # fmt: skip
    assert summary["stopped"] is None and summary["skipped_steps"] == 2
    with pytest.raises(ValueError, match=r"nonfinite_skip_limit=1\.5.*<= 1"):
        train(compose_cfg(tmp_path / "b", *FAST, "nonfinite=skip", "nonfinite_skip_limit=1.5"))


def test_the_checkpoint_io_refuses_nonfinite_parameters(tmp_path):
    from pinnkit.checkpoints import FORMAT, NonFiniteParametersError, SafeCheckpointIO

    io = SafeCheckpointIO()
    good = {"state_dict": {"w": torch.ones(3)}, "global_step": 1, "pinnkit": {"format": FORMAT}}
    io.save_checkpoint(good, tmp_path / "a.ckpt")
    with pytest.raises(NonFiniteParametersError, match=r"\['w'\] hold NaN/Inf"):
        io.save_checkpoint({"state_dict": {"w": torch.tensor([1.0, float("inf")])}}, tmp_path / "a.ckpt")
    assert io.load_checkpoint(tmp_path / "a.ckpt")["global_step"] == 1
