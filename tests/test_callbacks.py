"""The ``callbacks`` config group: the shipped sets, ``monitor: objective`` resolved per PDE, a progress bar left
out when the trainer has it off, and a bad entry refused before anything is written."""

from __future__ import annotations

import lightning.pytorch as L
import pytest
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar

from pinnkit.config_checks import ConfigError
from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_train import SHORT


class Seen(L.Callback):
    """Records the trainer's callbacks at the start of fitting."""

    def on_fit_start(self, trainer, module) -> None:
        self.callbacks = list(trainer.callbacks)


def _kinds(seen: Seen, kind: type) -> list:
    return [c for c in seen.callbacks if isinstance(c, kind)]


def test_the_default_set_checkpoints_by_the_objective_and_plots(tmp_path):
    seen = Seen()
    train(compose_cfg(tmp_path / "heat", *SHORT), [seen])
    (best,) = _kinds(seen, ModelCheckpoint)
    assert best.monitor == "val/l2_rel" and (tmp_path / "heat" / "checkpoints" / "best.ckpt").exists()
    assert not _kinds(seen, TQDMProgressBar)  # the bar is off: left out, not refused by Lightning
    assert any((tmp_path / "heat" / "plots").glob("solution_step*.png"))
    seen = Seen()
    train(compose_cfg(tmp_path / "membrane", "pde=membrane", *SHORT, "trainer.enable_progress_bar=true",
                      "progress_refresh=3"), [seen])  # fmt: skip
    (best,) = _kinds(seen, ModelCheckpoint)
    (bar,) = _kinds(seen, TQDMProgressBar)
    assert best.monitor == "val/loss" and bar.refresh_rate == 3  # no reference: the held-out residual loss


def test_none_keeps_only_what_a_run_needs(tmp_path):
    seen = Seen()
    summary = train(compose_cfg(tmp_path, "callbacks=none", *SHORT), [seen])
    assert not _kinds(seen, ModelCheckpoint) and not any((tmp_path / "plots").glob("solution_step*"))
    assert (tmp_path / "checkpoints" / "last.ckpt").exists() and not (tmp_path / "checkpoints" / "best.ckpt").exists()
    assert summary["steps"] == 4 and (tmp_path / "summary.json").exists()


def test_early_stopping_ends_a_run_that_stopped_improving(tmp_path):
    seen = Seen()
    # an improvement must exceed min_delta: none can, so the second validation (step 4) stops a 40-step run
    cfg = compose_cfg(tmp_path, "callbacks=early_stopping", "callbacks.early_stopping.patience=1",
                      "+callbacks.early_stopping.min_delta=1e9", *SHORT, "trainer.max_steps=40")  # fmt: skip
    summary = train(cfg, [seen])
    (stop,) = _kinds(seen, EarlyStopping)
    assert stop.monitor == "val/l2_rel" and summary["steps"] == 4 and summary["stopped"] is None


@pytest.mark.parametrize("entry", ["+callbacks.mine=3", "+callbacks.mine={every: 3}"])
def test_an_entry_without_a_target_is_refused_before_the_run(tmp_path, entry):
    with pytest.raises(
        ConfigError, match=r"callbacks\.mine must be a mapping with a _target_ .*=default \| early_stopping \| none"
    ):
        train(compose_cfg(tmp_path, entry, *SHORT))
    assert not (tmp_path / "summary.json").exists() and not (tmp_path / "checkpoints").exists()


def test_one_callback_is_dropped_with_a_tilde(tmp_path):
    seen = Seen()
    train(compose_cfg(tmp_path, "~callbacks.solution_plots", *SHORT), [seen])
    assert _kinds(seen, ModelCheckpoint) and not any((tmp_path / "plots").glob("solution_step*"))
    assert (tmp_path / "plots" / "losses.png").exists()  # drawn at the end of a run, not by a callback
