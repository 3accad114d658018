"""The generic PINN LightningModule: the hooks that tie the points, the loss, the optimizer phases, the non-finite
guard and the logging together. It knows nothing of a particular PDE.

Logged keys: ``train/loss``, ``train/loss_<term>``, ``val/l2_rel`` (with a reference), ``val/loss_<term>`` for the
interior terms and their sum ``val/loss``, ``lr-<optimizer>`` of the phase that took the step, ``perf/it_per_s``,
``perf/deriv_ms`` (values + derivatives + residuals of one step), ``perf/deriv_share`` (that over the mean step
time) and, on CUDA, ``perf/gpu_mem_gb``; all on the logging cadence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import lightning as L
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, IterableDataset

from ..loss import PINNLoss
from ..optim import Residuals
from ..pdes import Term
from ..points import Batch, CollocationPlan, ValidationSet
from ..resume import run_record
from ..weighting import GradNormBalance
from . import loop, metrics, startup, validation
from .guard import NonFiniteGuard
from .phases import Phases
from .timing import Timing


class Ticks(IterableDataset):
    """An endless stream of step ticks: points are sampled on the device inside the step, not loaded."""

    def __iter__(self) -> Iterator[int]:
        while True:
            yield 0


class PINNModule(L.LightningModule):
    """Trains ``net`` so that every term of ``loss.pde`` vanishes, on the points of ``plan``, with the
    optimizers of ``phases``; ``balance`` moves the terms' weights by their gradient norms (``None``: off).

    ``steps_per_batch = K`` takes K optimizer steps per Lightning batch; ``compile_step`` compiles the whole loss.
    Run-level metadata (``run_config``, ``wandb_id``) is given at construction or through :meth:`attach_run`.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: PINNLoss,
        plan: CollocationPlan,
        phases: Phases,
        guard: NonFiniteGuard,
        balance: GradNormBalance | None = None,
        val_points: int = 2048,
        checks: bool = True,
        steps_per_batch: int = 1,
        compile_step: bool = False,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False  # optimizer phases, clipping, skipping
        self.pde = loss.pde  # an nn.Module when it has learned coefficients: registered before the net, as ever
        self.net = net
        self.loss_fn, self.plan, self.phases, self.guard, self.balancer = loss, plan, phases, guard, balance
        self.derivative, self.terms = loss.derivative, loss.terms
        if val_points < 1 or int(steps_per_batch) < 1:
            raise ValueError(f"need val_points >= 1 and steps_per_batch >= 1, got {val_points}, {steps_per_batch}")
        self.val_points, self.checks, self.steps_per_batch = val_points, checks, int(steps_per_batch)
        self.register_buffer("balance_weights", torch.ones(len(self.terms)))  # grad-norm weights, checkpointed
        for name in loss.attended:  # residual-based attention's per-point multipliers, checkpointed
            self.register_buffer(f"attention_{name}", torch.ones(plan.count(name)))
        self.step_loss = loss.compiled() if compile_step else loss
        self.compiled = compile_step
        self.causal_weights: Tensor | None = None
        self.timing = Timing()
        self._direct_backward = False  # set at train start: see loop.plain_backward
        self._val: ValidationSet | None = None
        self._plane: ValidationSet | None = None  # the plotted plane of a PDE validated on random points
        self.run_config: dict | None = None  # the resolved training config, stored in checkpoints
        self.wandb_id: str | None = None

    def attach_run(self, config: dict, wandb_id: str | None) -> None:
        """The resolved config and W&B run id this module's checkpoints record."""
        self.run_config, self.wandb_id = config, wandb_id

    def forward(self, x: Tensor) -> Tensor:
        """``x (..., d) -> u (..., m)``."""
        return self.net(x)

    # ---- points and losses ----------------------------------------------------------------------------------
    def sample(self, key: int) -> Batch:
        """The batch of point-set ``key`` on this rank (see :class:`~pinnkit.points.CollocationPlan`)."""
        return self.plan.sample(key, self.dtype, self.device, self.score, *self._rank_world())

    def batch_points(self, step: int) -> Batch:
        """The points of ``step`` and, for estimated needs, its random directions (drawn from ``(seed, step)``:
        new every step, whatever the points' cadence; the same on every rank and after a resume)."""
        batch = self.plan.at(step, self.dtype, self.device, self.score, *self._rank_world())
        v = self.loss_fn.directions(self.plan.seed, step, self.dtype, self.device)
        return batch if v is None else dataclasses.replace(batch, directions=v)

    def score(self, term: Term, x: Tensor) -> Tensor:
        """``term``'s residual at ``x``: how adaptive sampling ranks candidate points."""
        return self.loss_fn.residual(self.net, term, x)

    def _rank_world(self) -> tuple[int, int]:
        """``(global rank, world size)``; ``(0, 1)`` outside a trainer."""
        trainer = self._trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def losses(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """The weighted total and the per-term losses at ``batch``; the grad-norm weights are updated first on
        the balancing cadence (first-order phase only; under DDP from rank-mean norms)."""
        w = self.balance_weights
        if self.balancer is not None:  # the compiled backward keeps its inputs: the in-place update below must
            w = w.clone()  # not change the weights it saved (autograd's version check would refuse the backward)
        step = self.global_step
        multipliers, step_t = self.attention_multipliers(step)
        total, losses, causal, moved = self.step_loss(self.net, batch, w, multipliers, step_t)
        for name, lam in (moved or {}).items():
            self.get_buffer(f"attention_{name}").copy_(lam.detach())
        if causal is not None:
            self.causal_weights = causal
        due = self.balancer is not None and self.balancer.due(step) and not self.phases.in_second_phase(step)
        if due and torch.is_grad_enabled():
            # one backward per term through a compiled step is refused or wrong (AOTAutograd's donated buffers):
            # the norms come from an eager evaluation of the terms (every balance.every steps)
            terms = self.loss_fn.term_losses(self.net, batch, multipliers, step_t)[0] if self.compiled else losses
            norms = self.balancer.grad_norms(terms, self.net.parameters())
            if self._trainer is not None and self.trainer.world_size > 1:
                norms = self.trainer.strategy.reduce(norms, reduce_op="mean")
            self.balance_weights.copy_(self.balancer.update(self.balance_weights, norms))
            total = self.loss_fn.total(losses, self.balance_weights)  # with the moved weights
        return total, losses

    def attention_multipliers(self, step: int) -> tuple[dict[str, Tensor] | None, Tensor | None]:
        """The attended terms' multipliers for this step's loss (copies: the step writes the moved values back) and
        the step as a tensor; ``(None, None)`` without attention or in the second optimizer phase, whose objective
        must stay fixed. On a new point set the multipliers start again at 1."""
        names = self.loss_fn.attended
        if not names or self.phases.in_second_phase(step):
            return None, None
        if self.plan.key(step) != self.plan.key(step - 1):
            for name in names:
                self.get_buffer(f"attention_{name}").fill_(1.0)
        step_t = torch.tensor(float(step), dtype=self.dtype, device=self.device)
        return {n: self.get_buffer(f"attention_{n}").clone() for n in names}, step_t

    def residual_blocks(self, batch: Batch) -> list[Residuals]:
        """The loss at ``batch`` as per-point residual blocks of this module's parameters (for ENGD)."""
        return self.loss_fn.residual_blocks(self, self.net, batch, self.balance_weights)

    def backward_step(self, loss: Tensor) -> None:
        """``manual_backward(loss)``, or ``loss.backward()`` where they are the same (:func:`loop.plain_backward`)."""
        if self._direct_backward:
            loss.backward()
        else:
            self.manual_backward(loss)

    def record_losses(self, losses: dict[str, Tensor]) -> bool:
        """Record this step's losses in the guard (True: skip the step, with ``nonfinite="skip"``); read the guard
        back after closure steps (whose closure already synced) and on the logging cadence."""
        skip = self.guard.record(losses, self.global_step)
        if self.guard.mode == "skip":
            return skip
        if self.phases.in_second_phase(self.global_step) or self.logging_step():
            self.guard.check(self.global_step)
        return False

    def nonfinite_report(self) -> str | None:
        """Why the current state must not be saved (a NaN/Inf loss or parameter), or ``None``."""
        return self.guard.report(self.global_step, self.parameters())

    # ---- training -------------------------------------------------------------------------------------------
    def logging_step(self) -> bool:
        """Whether Lightning writes this step's logged values: after steps ``k·n - 1`` (``n =
        log_every_n_steps``), under the step's own number; values logged on other steps would be written late."""
        every = self.trainer.log_every_n_steps
        return every > 0 and (self.global_step + 1) % every == 0

    def steps_this_batch(self) -> int:
        """``steps_per_batch``, capped so that the run ends exactly at ``trainer.max_steps``."""
        n = self.steps_per_batch
        if self._trainer is not None and self.trainer.max_steps > 0:
            n = max(1, min(n, self.trainer.max_steps - self.global_step))
        return n

    def training_step(self, batch: int, batch_idx: int) -> Tensor:
        """``steps_this_batch()`` optimizer steps, each exactly as with one step per batch (own points, own log)."""
        n = self.steps_this_batch()
        for i in range(n):
            if i and self.trainer.should_stop:  # the non-finite guard stopped the run: count only steps taken
                loop.rewind_steps(self.trainer, n - i)
                break
            loss = self.one_step()
        return loss

    def one_step(self) -> Tensor:
        """One optimizer step on the current step's points, with the logging of logging steps."""
        logging = self.logging_step()
        self.timing.due, self.timing.loss_ms = logging, None  # the loss is timed on logging steps only
        loss, losses = self.phases.step(self, self.batch_points(self.global_step))
        if logging:
            metrics.log_step(self, loss, losses)
        return loss

    # ---- validation -----------------------------------------------------------------------------------------
    def val_data(self) -> ValidationSet:
        """The validation set, cached on the device in the module's dtype."""
        val = self._val
        if val is None or val.points.device != self.device or val.points.dtype != self.dtype:
            make = ValidationSet.random if self.pde.validation_points else ValidationSet.grid
            self._val = make(self.pde, self.val_points, self.plan.seed, self.dtype, self.device)
        return self._val

    def plot_data(self) -> ValidationSet:
        """The grid the plots and ``solution.npz`` show, with its reference: the validation grid, or for a PDE
        validated on random points the plane of its ``grid()``; cached like :meth:`val_data`."""
        val = self.val_data()
        if val.mask is not None:
            return val
        plane = self._plane
        if plane is None or plane.points.device != self.device or plane.points.dtype != self.dtype:
            self._plane = ValidationSet.grid(self.pde, 1, 0, self.dtype, self.device)
        return self._plane

    def on_validation_start(self) -> None:
        """Before any checkpoint of this validation is written: stop if a loss or parameter is non-finite."""
        if self._trainer is not None and not self.trainer.sanity_checking:
            self.guard.check(self.global_step, self.parameters())

    def validation_step(self, batch: int, batch_idx: int) -> None:
        validation.log_errors(self, self.val_data(), *self._rank_world())

    # ---- set-up and checkpoints -----------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        self.timing.begin_segment()  # the step is set at train start, after a checkpoint is restored
        self.timing.device = self.device
        loop.check_callback_order(self.trainer, self.steps_per_batch)
        startup.check_shapes(self.net, self.pde, self.dtype, self.device)  # before the sanity check's cryptic error

    def on_train_start(self) -> None:
        startup.check_methods(self.phases, self.loss_fn, self.trainer.world_size)
        self.timing.begin_segment(self.global_step)
        self._direct_backward = loop.plain_backward(self.trainer, self)
        startup.prepare_backend(self.loss_fn, self.net, self.batch_points(self.global_step))
        report = getattr(self.derivative, "report", None)
        if report and self.logger is not None:
            self.logger.log_hyperparams({"derivative_auto": report})
        if self.checks:
            startup.check_graph(self.loss_fn, self.net, self.plan.seed, self.dtype, self.device)

    def segments(self) -> tuple[float, list[dict]]:
        """Training time (s) over every segment of the run so far, and the segments (see :class:`Timing`)."""
        return self.timing.segments(self.global_step)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """What :mod:`pinnkit.predict` and resuming need, in plain types (:func:`~pinnkit.resume.run_record`)."""
        time_s, segments = self.segments()
        record = run_record(self.run_config, self.pde, self.wandb_id, time_s, segments, self.guard.skipped)
        checkpoint["pinnkit"] = record

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        meta = checkpoint.get("pinnkit") or {}
        self.timing.before = float(meta.get("time_s", 0.0))
        self.timing.segments_before = list(meta.get("segments", []))
        self.guard.skipped = int(meta.get("skipped_steps", 0))

    def configure_optimizers(self):
        return self.phases.configure(self.parameters())

    def train_dataloader(self) -> DataLoader:
        return DataLoader(Ticks(), batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return DataLoader([0], batch_size=None)
