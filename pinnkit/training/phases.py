"""Optimizer phases: a first-order phase (Adam, SOAP... with a schedule, gradient clipping, skipped steps), then,
from ``second_from``, a second phase: a closure optimizer (L-BFGS, :class:`~pinnkit.optim.SSBFGS`,
:class:`~pinnkit.optim.SSBroyden`: any ``torch.optim`` optimizer whose ``step`` takes a loss closure) or
:class:`~pinnkit.optim.ENGD` (whose closure returns per-point residual blocks).

Every call of :meth:`Phases.step` is one step of ``trainer.max_steps`` whichever the phase; a closure step
evaluates the loss as often as the optimizer asks (``max_iter`` iterations of L-BFGS or SSBroyden). In the second
phase the points stay fixed for ``resample_every`` steps (0: from the switch on), since curvature pairs need one
objective; at each new point set the optimizer is told (``objective_changed(keep_curvature)``, where it has it; any
other optimizer's state is cleared, a fresh start on the new objective).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..optim import ENGD
from ..points import Batch

if TYPE_CHECKING:
    from .module import PINNModule

OptimizerFactory = Callable[[Iterable[Tensor]], torch.optim.Optimizer]


class Phases:
    """``optimizer`` (with ``scheduler``, stepped per step, and ``grad_clip`` on the gradient norm), then
    ``second`` from step ``second_from`` (both ``None``: one phase), its points resampled every ``resample_every``
    steps (0: never), keeping the optimizer's curvature across a resample or not (``keep_curvature``)."""

    def __init__(
        self,
        optimizer: OptimizerFactory,
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        second: OptimizerFactory | None = None,
        second_from: int | None = None,
        grad_clip: float | None = None,
        resample_every: int = 0,
        keep_curvature: bool = True,
    ) -> None:
        if (second is None) != (second_from is None) or (second_from is not None and second_from < 0):
            raise ValueError(
                f"optim.second and optim.second_from >= 0 go together, got second={second}, second_from={second_from}"
            )
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 (or null), got {grad_clip}")
        if resample_every < 0:
            raise ValueError(f"optim.resample_every must be >= 0 (0: points fixed in the second phase), got "
                             f"{resample_every}")  # fmt: skip
        self.optimizer, self.scheduler, self.second = optimizer, scheduler, second
        self.second_from, self.grad_clip = second_from, grad_clip
        self.resample_every, self.keep_curvature = int(resample_every), bool(keep_curvature)
        self.closure_calls = 0
        self.last_optimizer: torch.optim.Optimizer | None = None

    def in_second_phase(self, step: int) -> bool:
        return self.second_from is not None and step >= self.second_from

    def configure(self, params: Iterable[Tensor]) -> Any:
        """What ``configure_optimizers`` returns: the optimizers in phase order and the scheduler, per step."""
        params = list(params)
        first = self.optimizer(params)
        opts = [first] if self.second is None else [first, self.second(params)]
        if self.scheduler is None:
            return opts
        return opts, [{"scheduler": self.scheduler(first), "interval": "step"}]

    def step(self, module: PINNModule, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """One optimizer step on ``batch``: ``(total loss, per-term losses)``, detached."""
        opts = module.optimizers()
        opts = opts if isinstance(opts, list) else [opts]
        step = module.global_step
        opt = opts[1] if self.in_second_phase(step) else opts[0]
        self.last_optimizer = getattr(opt, "optimizer", opt)  # the one that took this step (its lr is logged)
        if not self.in_second_phase(step):
            return self._first_order_step(module, opt, batch)
        if step > self.second_from and module.plan.key(step) != module.plan.key(step - 1):
            self._new_objective(opt)
        if isinstance(opt, ENGD):
            return self._residual_step(module, opt, batch)
        return self._closure_step(module, opt, batch)

    def _new_objective(self, opt: torch.optim.Optimizer) -> None:
        """A new point set in the second phase: the optimizer's curvature belongs to the old objective."""
        changed = getattr(opt, "objective_changed", None)
        if callable(changed):
            changed(self.keep_curvature)
        elif not isinstance(opt, ENGD):  # e.g. L-BFGS: its history pairs would mix two objectives
            opt.state.clear()

    def _closure_step(self, module: PINNModule, opt: torch.optim.Optimizer, batch: Batch):
        result: dict[str, object] = {}
        world = module.trainer.world_size

        def closure() -> Tensor:
            self.closure_calls += 1
            opt.zero_grad()
            loss, losses = module.losses(batch)
            module.backward_step(loss)  # under DDP the gradients are averaged over ranks here
            result.update(loss=loss.detach(), losses={k: v.detach() for k, v in losses.items()})
            if world > 1:  # the line search must see one objective on every rank
                return module.trainer.strategy.reduce(loss.detach(), reduce_op="mean")
            return loss

        opt.step(closure=closure)
        if not result:  # the optimizer took no evaluation (converged at its reused point): the losses there
            with torch.no_grad():
                loss, losses = module.losses(batch)
            result.update(loss=loss.detach(), losses=losses)
        module.record_losses(result["losses"])
        return result["loss"], result["losses"]

    def _residual_step(self, module: PINNModule, opt: ENGD, batch: Batch):
        """A Gauss-Newton step on the per-point residuals; the losses logged are those before the step."""
        with torch.no_grad():
            loss, losses = module.losses(batch)
        losses = {k: v.detach() for k, v in losses.items()}
        module.record_losses(losses)
        opt.step(lambda: module.residual_blocks(batch))
        return loss.detach(), losses

    def _first_order_step(self, module: PINNModule, opt: torch.optim.Optimizer, batch: Batch):
        timed = module.timing.due
        if timed:  # host syncs around the loss computation, on logging steps only
            module.timing.sync()
            t0 = time.perf_counter()
        loss, losses = module.losses(batch)
        if timed:
            module.timing.sync()
            module.timing.loss_ms = (time.perf_counter() - t0) * 1e3
        opt.zero_grad()
        if module.record_losses(losses):  # nonfinite=skip: no gradients, no update, but the step counts
            opt.step()
            if module._trainer is not None:  # fail once too many were skipped for the run to pass
                module.guard.check_skips(module.global_step, module.trainer.max_steps)
            return loss.detach(), losses
        module.backward_step(loss)
        if self.grad_clip is not None:
            module.clip_gradients(opt, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")
        opt.step()
        sched = module.lr_schedulers()
        if sched is not None:
            sched.step()
        return loss.detach(), {k: v.detach() for k, v in losses.items()}
