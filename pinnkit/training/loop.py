"""Every touch of Lightning's internals and introspection, in one place.

- :class:`StepsPerBatch` and :func:`rewind_steps`: with ``steps_per_batch = K > 1`` the loop's logging counter
  (``fit_loop.epoch_loop._batches_that_stepped``) counts optimizer steps, not batches;
- :func:`check_callback_order`: that callback must run before any ``LearningRateMonitor``;
- :func:`plain_backward`: whether ``manual_backward`` would only call ``loss.backward()``.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.plugins.precision import DoublePrecision, Precision
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.model_helpers import is_overridden


class StepsPerBatch(L.Callback):
    """For ``steps_per_batch = K > 1``: at each batch start, before the other callbacks look, advances Lightning's
    logging counter (``fit_loop.epoch_loop._batches_that_stepped``, which it adds 1 to per batch) by the batch's
    extra steps. Log cadence (``log_every_n_steps``, the LR monitor) and logged step numbers then count optimizer
    steps, as with one step per batch. ``train`` puts it first in the callbacks."""

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: object, idx: int) -> None:
        trainer.fit_loop.epoch_loop._batches_that_stepped += module.steps_this_batch() - 1


def rewind_steps(trainer: L.Trainer, n: int) -> None:
    """Take back ``n`` steps that :class:`StepsPerBatch` counted but the batch did not take (a stop mid-batch)."""
    trainer.fit_loop.epoch_loop._batches_that_stepped -= n


def check_callback_order(trainer: L.Trainer, steps_per_batch: int) -> None:
    """With ``steps_per_batch > 1``, :class:`StepsPerBatch` must be among the callbacks, before any
    ``LearningRateMonitor``; else a ``ValueError`` saying why."""
    kinds = [type(c) for c in trainer.callbacks]
    first_lr = next((i for i, k in enumerate(kinds) if issubclass(k, LearningRateMonitor)), len(kinds))
    if steps_per_batch > 1 and (StepsPerBatch not in kinds or kinds.index(StepsPerBatch) > first_lr):
        raise ValueError(
            f"steps_per_batch={steps_per_batch} needs pinnkit.training.StepsPerBatch() among the trainer's "
            "callbacks, before any LearningRateMonitor (train() puts it first), else logged step numbers and "
            "the log cadence would count batches"
        )


def plain_backward(trainer: L.Trainer, module: L.LightningModule) -> bool:
    """Whether Lightning's ``manual_backward`` would only call ``loss.backward()``: one device, a precision
    plugin that does not scale the loss (32-true, 64-true), no profiler, and no callback or module hook on the
    backward. Its wrapper then only calls empty hooks (a few percent of a compiled CPU step), which the step
    skips. Anything else (DDP, mixed precision, a profiler, a gradient logging callback) goes through
    ``manual_backward``."""
    hooks = ("on_before_backward", "on_after_backward")
    return (
        type(trainer.strategy) is SingleDeviceStrategy
        and type(trainer.precision_plugin) in (Precision, DoublePrecision)
        and isinstance(trainer.profiler, PassThroughProfiler)
        and not any(is_overridden(h, cb, L.Callback) for cb in trainer.callbacks for h in hooks)
        and not any(is_overridden(h, module, L.LightningModule) for h in (*hooks, "backward"))
    )
