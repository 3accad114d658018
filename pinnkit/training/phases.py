"""Optimizer phases: a first-order phase (Adam and its schedule, gradient clipping, skipped steps), then, from
``lbfgs_from``, a closure phase (L-BFGS or any ``torch.optim`` optimizer whose ``step`` takes a closure).

Every call of :meth:`Phases.step` is one step of ``trainer.max_steps`` whichever the phase; a closure step
evaluates the loss as often as the optimizer asks (L-BFGS: up to ``max_iter`` times). The points freeze at the
switch (:class:`~pinnkit.points.CollocationPlan` ``freeze_from``): curvature pairs need one objective.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..points import Batch

if TYPE_CHECKING:
    from .module import PINNModule

OptimizerFactory = Callable[[Iterable[Tensor]], torch.optim.Optimizer]


class Phases:
    """``optimizer`` (with ``scheduler``, stepped per step, and ``grad_clip`` on the gradient norm), then
    ``closure_optimizer`` from step ``switch_at`` (both ``None``: one phase)."""

    def __init__(
        self,
        optimizer: OptimizerFactory,
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        closure_optimizer: OptimizerFactory | None = None,
        switch_at: int | None = None,
        grad_clip: float | None = None,
    ) -> None:
        if (closure_optimizer is None) != (switch_at is None) or (switch_at is not None and switch_at < 0):
            raise ValueError(
                f"lbfgs and lbfgs_from >= 0 go together, got lbfgs={closure_optimizer}, lbfgs_from={switch_at}"
            )
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 (or null), got {grad_clip}")
        self.optimizer, self.scheduler, self.closure_optimizer = optimizer, scheduler, closure_optimizer
        self.switch_at, self.grad_clip = switch_at, grad_clip
        self.closure_calls = 0

    def in_closure_phase(self, step: int) -> bool:
        return self.switch_at is not None and step >= self.switch_at

    def configure(self, params: Iterable[Tensor]) -> Any:
        """What ``configure_optimizers`` returns: the optimizers in phase order and the scheduler, per step."""
        params = list(params)
        first = self.optimizer(params)
        opts = [first] if self.closure_optimizer is None else [first, self.closure_optimizer(params)]
        if self.scheduler is None:
            return opts
        return opts, [{"scheduler": self.scheduler(first), "interval": "step"}]

    def step(self, module: PINNModule, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """One optimizer step on ``batch``: ``(total loss, per-term losses)``, detached."""
        opts = module.optimizers()
        opts = opts if isinstance(opts, list) else [opts]
        if self.in_closure_phase(module.global_step):
            return self._closure_step(module, opts[1], batch)
        return self._first_order_step(module, opts[0], batch)

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
        module.record_losses(result["losses"])
        return result["loss"], result["losses"]

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
