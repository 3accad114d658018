"""How a run ends: at ``max_steps`` with ``last.ckpt`` of the final step, or on a signal with an honest exit.

- :class:`FinalCheckpoint` writes ``checkpoints/last.ckpt`` when training ends (the step stream is endless, so
  Lightning's epoch-end saving never fires) and when a signal stops it; never with non-finite parameters.
- :class:`SignalStop`: SIGTERM (how SLURM and Kubernetes pre-empt) and SIGINT (Ctrl-C) stop the run after the
  current step through Lightning's SIGTERM path, which broadcasts the stop to every DDP rank. ``train`` then
  writes ``summary.json`` with ``stopped: "signal"`` and raises :class:`RunInterrupted`, whose ``exit_code``
  (128 + the signal's number: 143, 130) the command line exits with. A second SIGINT interrupts at once.
  Under SLURM, Lightning's own plugin (``SLURMEnvironment(auto_requeue=True)``) still handles the requeue
  signal (SIGUSR1: an ``hpc_ckpt_<n>.ckpt`` and ``scontrol requeue``).
- SIGUSR2, when a Python handler already listens for it (submitit's: its jobs ask SLURM for SIGUSR2 before the time
  limit, and pre-emption sends it), stops the run the same way; once ``last.ckpt`` and the summary are written, the
  displaced handler gets the signal (:attr:`RunInterrupted.handover`): submitit then requeues the job, which resumes
  from ``last.ckpt`` at the step it stopped (:func:`pinnkit.rundir.requeued_checkpoint`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
HANDED_ON = (signal.SIGUSR2,)  # stop here first, then hand to the handler that was listening (submitit's requeue)
Handler = Callable[[int, Any], Any]


class RunInterrupted(RuntimeError):
    """A signal stopped the run after its final checkpoint and summary were written."""

    def __init__(self, signum: int, step: int, handover: Handler | None = None) -> None:
        self.signum, self.step = int(signum), int(step)
        self.handover = handover  # the handler the stop displaced: call it with the signal once outputs are safe
        self.exit_code = 128 + self.signum
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name} at step {step}; resume with ckpt_path=<run dir>/checkpoints/last.ckpt")


class SignalStop(L.Callback):
    """Records the first SIGTERM/SIGINT (or a handed-on SIGUSR2) and turns it into Lightning's
    stop-after-this-step (module doc)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.handover: Handler | None = None
        self._before: dict[int, Any] = {}

    @contextmanager
    def installed(self) -> Iterator[SignalStop]:
        """Install the handlers for the duration of ``trainer.fit`` (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        before = self._before = {s: signal.getsignal(s) for s in (*STOP_SIGNALS, *HANDED_ON)}
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_int)
        for s in HANDED_ON:
            if callable(before[s]):  # someone listens (submitit): stop cleanly, then hand the signal on
                signal.signal(s, self._on_handed_on)
        try:
            yield self
        finally:
            for s, handler in before.items():
                signal.signal(s, handler)

    def _on_term(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum

    def _on_int(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts at once
        _forward_sigterm(frame)

    def _on_handed_on(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum, self.handover = signum, self._before[signum]
        _forward_sigterm(frame)

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.signum is not None and not trainer.received_sigterm:  # arrived before Lightning listened
            _forward_sigterm(None)


def _forward_sigterm(frame: Any) -> None:
    """Run the current SIGTERM handler (Lightning's, which calls ours too, once fit has started)."""
    handler = signal.getsignal(signal.SIGTERM)
    if callable(handler):
        handler(signal.SIGTERM, frame)


class FinalCheckpoint(Checkpoint):
    """``last.ckpt`` at the end of training and when a signal stops it (module doc). Nothing is saved when the
    module's ``nonfinite_report()`` finds a NaN/Inf loss or parameter (the run then fails with that report).

    A :class:`~lightning.pytorch.callbacks.Checkpoint`, so Lightning runs it after the other callbacks (the timer
    of ``max_time`` included) and after ``ModelCheckpoint``, whose ``save_last`` writes the same file at every
    validation: those saves are noted, so a step is not written twice at the end.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._saved_step = -1

    def _save(self, trainer: L.Trainer, module: Any) -> None:
        if self._saved_step == trainer.global_step:
            return
        if module.nonfinite_report() is not None:
            return
        trainer.save_checkpoint(self.path, weights_only=False)  # the full state (optimizers, loops): a resume needs it
        self._saved_step = trainer.global_step

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.sanity_checking:  # ModelCheckpoint(save_last=True) has just written last.ckpt
            self._saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: Any) -> None:
        """The last step's checkpoint is written here, where Lightning's own step-based checkpoints are (its
        loops resume from this point with the same step numbering as an uninterrupted run)."""
        if 0 < trainer.max_steps <= trainer.global_step or trainer.should_stop:
            self._save(trainer, module)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._save(trainer, module)  # a stop no batch end saw (a callback's should_stop at validation)

    def on_exception(self, trainer: L.Trainer, module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            self._save(trainer, module)
