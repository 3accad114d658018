"""The generic PINN LightningModule: samples each term's points, asks the PDE for residuals, logs metrics.

It knows nothing of a particular PDE: every loss is a :class:`~pinnkit.pdes.Term` with its region, its named
derivative needs and its residual. Logged keys: ``train/loss``, ``train/loss_<term>``, ``val/l2_rel``,
``val/loss_<term>`` for the interior term, ``perf/it_per_s``, ``perf/deriv_ms`` (values + derivatives + residuals
of one step), ``perf/deriv_share`` (that over the mean step time) and, on CUDA, ``perf/gpu_mem_gb``; all on the
logging cadence. A non-finite loss stops training with the term and first bad step (``nonfinite="stop"``) or skips
the step (``"skip"``); :mod:`pinnkit.guard` says when it is checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.plugins.precision import DoublePrecision, Precision
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import Tensor, nn
from torch.utils.data import DataLoader, IterableDataset

from .checkpoints import FORMAT
from .derivatives import Backend, Derivatives
from .derivatives.base import Request, is_derivative_name, make_request
from .derivatives.checks import check_pointwise, check_reaches_params
from .guard import NonFiniteGuard
from .pdes import PDE, Term
from .resume import run_identity
from .sampling import SAMPLERS, adaptive_choice
from .weighting import GradNormBalance, causal_loss


class Ticks(IterableDataset):
    """An endless stream of step ticks: points are sampled on the device inside the step, not loaded."""

    def __iter__(self) -> Iterator[int]:
        while True:
            yield 0


class StepsPerBatch(L.Callback):
    """For ``steps_per_batch = K > 1``: at each batch start, before the other callbacks look, advances Lightning's
    logging counter (``fit_loop.epoch_loop._batches_that_stepped``, which it adds 1 to per batch) by the batch's
    extra steps. Log cadence (``log_every_n_steps``, the LR monitor) and logged step numbers then count optimizer
    steps, as with one step per batch. ``train`` puts it first in the callbacks."""

    def on_train_batch_start(self, trainer: L.Trainer, module: PINNModule, batch: object, batch_idx: int) -> None:
        trainer.fit_loop.epoch_loop._batches_that_stepped += module.steps_this_batch() - 1


class PINNModule(L.LightningModule):
    """Trains ``net`` so that every term of ``pde`` vanishes.

    ``points`` maps a region (``interior``, ``initial``, ``boundary``, ``periodic``) to its number of points
    per step; ``weights`` maps term names to loss weights (default 1); points are resampled every
    ``resample_every`` steps (0: never) from a generator seeded by ``(seed, step)``.
    """

    def __init__(
        self,
        pde: PDE,
        net: nn.Module,
        derivative: Backend,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        points: Mapping[str, int] | None = None,
        weights: Mapping[str, float] | None = None,
        resample_every: int = 1,
        val_points: int = 2048,
        seed: int = 0,
        checks: bool = True,
        nonfinite: str = "stop",
        nonfinite_skip_limit: float = 0.5,
        lbfgs: Callable[..., torch.optim.Optimizer] | None = None,
        lbfgs_from: int | None = None,
        grad_clip: float | None = None,
        sampler: str = "uniform",
        adaptive: Mapping[str, float] | None = None,
        balance: Mapping[str, float] | None = None,
        causal: Mapping[str, float] | None = None,
        fuse_terms: bool = True,
        steps_per_batch: int = 1,
        compile_step: bool = False,
        residual_everywhere: bool = False,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False  # two optimizer phases (Adam, then L-BFGS), clipping, skipping
        if (lbfgs is None) != (lbfgs_from is None) or (lbfgs_from is not None and lbfgs_from < 0):
            raise ValueError(f"lbfgs and lbfgs_from >= 0 go together, got lbfgs={lbfgs}, lbfgs_from={lbfgs_from}")
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 (or null), got {grad_clip}")
        self.lbfgs_factory, self.lbfgs_from, self.grad_clip = lbfgs, lbfgs_from, grad_clip
        self.closure_calls = 0
        self._direct_backward = False  # set at train start: see plain_backward()
        self._time_losses, self._loss_ms = False, None
        self.pde, self.net, self.derivative = pde, net, derivative
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.terms: list[Term] = pde.terms()
        names = [t.name for t in self.terms]
        unknown = set(weights or {}) - set(names)
        if unknown:
            raise ValueError(f"loss weights name unknown terms {sorted(unknown)}; the terms of {pde.name} are {names}")
        self.weights = {t.name: float((weights or {}).get(t.name, t.weight)) for t in self.terms}
        self.points = dict(points or {"interior": 2000, "initial": 200, "boundary": 200, "periodic": 200})
        for t in self.terms:
            if t.region == "data":  # fixed observation points, from the PDE
                if not callable(getattr(pde, "data_points", None)):
                    raise ValueError(f"term {t.name!r} uses region 'data' but {pde.name} has no data_points()")
                continue
            n = self.points.get(t.points_key)
            if n is None or int(n) < 1:
                raise ValueError(
                    f"term {t.name!r} samples region {t.region!r}: set data.points.{t.points_key} >= 1 "
                    f"(given: {self.points})"
                )
        if resample_every < 0 or val_points < 1:
            raise ValueError(f"need resample_every >= 0 and val_points >= 1, got {resample_every}, {val_points}")
        self.resample_every, self.val_points, self.seed, self.checks = resample_every, val_points, seed, checks
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; valid: {SAMPLERS}")
        self.sampler = sampler
        # residual_everywhere: the interior term also holds the initial/boundary terms' points (after its own);
        # the fused call then evaluates them once, serving those terms from the interior term's tail
        interior = [t for t in self.terms if t.region == "interior"]
        self._edge_terms = [t for t in self.terms if t.region in ("initial", "boundary")] if residual_everywhere else []
        if residual_everywhere and len(interior) != 1:
            raise ValueError(
                f"residual_everywhere needs exactly one interior term; {pde.name} has {[t.name for t in interior]}"
            )
        self._edge_host = interior[0] if self._edge_terms else None
        self._fused_terms = [t for t in self.terms if all(t is not e for e in self._edge_terms)]  # the rest: own points
        self.adaptive = _options("data.adaptive", adaptive, {"pool": 0, "k": 1.0, "c": 1.0})
        if self.adaptive["pool"] and (self.adaptive["pool"] < 1 or self.adaptive["k"] < 0 or self.adaptive["c"] < 0):
            raise ValueError(f"data.adaptive needs pool >= 1 (0: off), k >= 0 and c >= 0, got {self.adaptive}")
        opts = _options("balance", balance, {"every": 0, "alpha": 0.9})
        self.balancer = GradNormBalance(int(opts["every"]), opts["alpha"]) if opts["every"] else None
        self.register_buffer("balance_weights", torch.ones(len(self.terms)))  # grad-norm weights, checkpointed
        self.causal = _options("causal", causal, {"chunks": 0, "eps": 1.0})
        if self.causal["chunks"] and (
            self.pde.domain.time is None or self.causal["chunks"] < 1 or self.causal["eps"] < 0
        ):
            raise ValueError(
                f"causal weighting needs a time-dependent PDE ({pde.name} has axes {pde.axes}), chunks >= 1 (0: "
                f"off) and eps >= 0; got {self.causal}"
            )
        self._causal_w: Tensor | None = None
        self.fuse_terms = fuse_terms
        # every derivative request of the run, parsed once: the step (compiled with compile_step) only looks up
        self._fused_needs = tuple(dict.fromkeys(n for t in self.terms for n in t.needs))
        self.requests: dict[tuple[str, ...], Request] = {
            needs: make_request(needs, pde.fields, pde.axes)
            for needs in [self._fused_needs, *(t.needs for t in self.terms)]
        }
        if int(steps_per_batch) < 1:
            raise ValueError(f"steps_per_batch must be >= 1, got {steps_per_batch}")
        self.steps_per_batch = int(steps_per_batch)
        if compile_step and derivative.uses_autograd:
            raise ValueError(
                f"compile_step=true compiles the whole loss, derivatives included; backend {derivative.name!r} "
                "takes nested reverse-mode derivatives, which torch.compile cannot differentiate again. Use "
                "derivative=taylor, or compile_step=false"
            )
        self._compiled_terms = torch.compile(self.weighted_losses, dynamic=False) if compile_step else None
        self._batch: tuple[int, dict[str, Tensor]] | None = None
        self._val: tuple[Tensor, Tensor, Tensor, Tensor] | None = None
        self._mark: tuple[int, float] | None = None
        self._t0 = time.perf_counter()
        self.guard = NonFiniteGuard(nonfinite, names, nonfinite_skip_limit)
        self.run_config: dict | None = None  # the resolved training config, stored in checkpoints
        self.time_before, self.segments_before = 0.0, []  # earlier segments of a resumed run (from its checkpoint)
        self._segment: tuple[float, int] = (time.perf_counter(), 0)  # this segment's start: (clock, step)

    def forward(self, x: Tensor) -> Tensor:
        """``x (..., d) -> u (..., m)``."""
        return self.net(x)

    # ---- points -------------------------------------------------------------------------------------------
    def sample(self, key: int) -> dict[str, Tensor]:
        """One point set per term, drawn from a generator seeded by ``(seed, key)``: reproducible on a device type.

        ``points`` are global counts: under DDP every rank draws the same global batch and keeps its slice
        ``rank::world_size``, so no point is duplicated and the batch is the one a single process would use.
        With ``adaptive.pool = P > 0`` an interior term draws ``P n`` candidates and keeps ``n`` of them with
        probability ``∝ |r|^k / mean |r|^k + c`` (RAD, Wu et al. 2023): resample every few hundred steps.
        """
        gen = torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + key)
        pts = {}
        for t in self.terms:
            if t.region == "data":
                pts[t.name] = self.pde.data_points().to(self.device, self.dtype)
                continue
            n = int(self.points[t.points_key])
            pool = int(self.adaptive["pool"]) if t.region == "interior" else 0
            x = self.pde.domain.sample(t.region, n * max(pool, 1), gen, self.dtype, self.device, self.sampler)
            if pool:  # residual-based adaptive distribution: keep n of the pool, favouring large residuals
                with torch.enable_grad():
                    r = self.residual(t, x).detach()
                x = x[adaptive_choice(r, n, self.adaptive["k"], self.adaptive["c"], gen)]
            pts[t.name] = x
        rank, world = self._rank_world()
        if world > 1:
            pts = {k: v[rank::world] for k, v in pts.items()}
        if self._edge_terms:  # the interior residual at the edge terms' points too, appended in term order
            edge = [pts[t.name] for t in self._edge_terms]
            pts = {k: torch.cat([v, *edge]) if k == self._edge_host.name else v for k, v in pts.items()}
        return pts

    def _rank_world(self) -> tuple[int, int]:
        """``(global rank, world size)``; ``(0, 1)`` outside a trainer."""
        trainer = self._trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def in_lbfgs(self, step: int) -> bool:
        return self.lbfgs_from is not None and step >= self.lbfgs_from

    def batch_points(self, step: int) -> dict[str, Tensor]:
        if self.in_lbfgs(step):  # L-BFGS builds curvature from one objective: the points freeze at the switch
            step = self.lbfgs_from
        key = step // self.resample_every if self.resample_every else 0
        if self._batch is None or self._batch[0] != key or next(iter(self._batch[1].values())).device != self.device:
            self._batch = (key, self.sample(key))
        return self._batch[1]

    # ---- losses -------------------------------------------------------------------------------------------
    def residual(self, term: Term, x: Tensor, d: Derivatives | None = None) -> Tensor:
        """``term``'s residual at points ``x (..., d)``: ``(...,)`` or ``(..., k)`` (``d``: derivatives at ``x``
        already computed)."""
        if d is None:
            d = self.derivative(self.net, x, self.requests[term.needs])
        return term.residual(d, x)

    def derivatives(self, pts: Mapping[str, Tensor]) -> dict[str, Derivatives]:
        """Every term's values and derivatives at its points ``pts[name] (..., d)``.

        With ``fuse_terms`` (default) this is one backend call over all points concatenated, with the union of
        the terms' needs, split back per term: one network pass instead of one per term (initial and boundary
        points get the interior's derivatives too, a few percent more work, far less per-call overhead).
        """
        if not self.fuse_terms or len(self.terms) == 1:
            return {t.name: self.derivative(self.net, pts[t.name], self.requests[t.needs]) for t in self.terms}
        needs, x, sizes = self._fused(pts)
        whole = self.derivative(self.net, x, self.requests[needs])
        out, start = {}, 0
        for t, n in zip(self._fused_terms, sizes, strict=True):
            out[t.name] = whole.take(slice(start, start + n), tuple(pts[t.name].shape[:-1]))
            start += n
        if self._edge_terms:  # the edge terms' points are the tail of the interior term's
            host, start = out[self._edge_host.name], pts[self._edge_host.name].shape[0]
            start -= sum(pts[t.name].shape[0] for t in self._edge_terms)
            for t in self._edge_terms:
                n = pts[t.name].shape[0]
                out[t.name] = host.take(slice(start, start + n), (n,))
                start += n
        return out

    def _fused(self, pts: Mapping[str, Tensor]) -> tuple[tuple[str, ...], Tensor, list[int]]:
        """The union of the terms' needs, their points flattened and concatenated ``(P, d)``, and each one's count."""
        flat = [pts[t.name].reshape(-1, len(self.pde.axes)) for t in self._fused_terms]
        return self._fused_needs, torch.cat(flat), [x.shape[0] for x in flat]

    def term_loss(self, term: Term, x: Tensor, causal: bool = False, d: Derivatives | None = None) -> Tensor:
        """Mean square residual of ``term`` at points ``x (..., d)``; causally weighted over time chunks for the
        interior term when ``causal`` and the run asks for it (``causal.chunks > 0``; the chunk weights come with
        :meth:`term_losses`)."""
        return self._term_loss(term, x, causal, d)[0]

    def _term_loss(self, term: Term, x: Tensor, causal: bool, d: Derivatives | None) -> tuple[Tensor, Tensor | None]:
        """``term_loss`` without side effects: ``(loss, causal chunk weights or None)``."""
        r = self.residual(term, x, d)
        if causal and self.causal["chunks"] and term.region == "interior":
            i = self.pde.axes.index(self.pde.domain.time)
            lo, hi = self.pde.domain.lower[i], self.pde.domain.upper[i]
            return causal_loss(r, x[..., i].reshape(-1), lo, hi, int(self.causal["chunks"]), float(self.causal["eps"]))
        return r.square().mean(), None

    def term_losses(self, pts: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], Tensor | None]:
        """Every term's loss at its points ``pts[name]`` (one fused derivative call) and the causal chunk weights
        (None without causal weighting): a pure function of the points and parameters."""
        derivs = self.derivatives(pts)
        losses, weights = {}, None
        for t in self.terms:
            losses[t.name], w = self._term_loss(t, pts[t.name], True, derivs[t.name])
            weights = w if w is not None else weights
        return losses, weights

    def logging_step(self) -> bool:
        """Whether Lightning writes this step's logged values to the loggers: it does so after steps ``k·n - 1``
        (``n = trainer.log_every_n_steps``), under the step's own number. Values logged on other steps would
        wait and be written up to ``n - 1`` steps late under a later step's number."""
        every = self.trainer.log_every_n_steps
        return every > 0 and (self.global_step + 1) % every == 0

    def steps_this_batch(self) -> int:
        """``steps_per_batch``, capped so that the run ends exactly at ``trainer.max_steps``."""
        n = self.steps_per_batch
        if self._trainer is not None and self.trainer.max_steps > 0:
            n = max(1, min(n, self.trainer.max_steps - self.global_step))
        return n

    def training_step(self, batch: int, batch_idx: int) -> Tensor:
        """``steps_this_batch()`` optimizer steps, each exactly as with one step per batch (own points, own log).

        Several steps per Lightning batch spread the loop's per-batch cost (hooks, callbacks, logger connector:
        ~1 ms on a CPU) over them. :class:`StepsPerBatch` keeps Lightning's logging counter in optimizer steps.
        """
        n = self.steps_this_batch()
        for i in range(n):
            if i and self.trainer.should_stop:  # the non-finite guard stopped the run: count only steps taken
                self.trainer.fit_loop.epoch_loop._batches_that_stepped -= n - i
                break
            loss = self.one_step()
        return loss

    def one_step(self) -> Tensor:
        """One optimizer step on the current step's points, with the logging of logging steps."""
        pts = self.batch_points(self.global_step)
        logging = self.logging_step()
        self._loss_ms = None
        self._time_losses = logging  # the losses (values, derivatives, residuals) are timed on logging steps only
        loss, losses = self.optimizer_step_on(pts)
        if logging:
            self._sync()
            now = time.perf_counter()
            self.log("train/loss", loss, prog_bar=True)
            self.log_dict({f"train/loss_{n}": v for n, v in losses.items()})
            if self._loss_ms is not None:
                self.log("perf/deriv_ms", self._loss_ms)
            if self.balancer is not None:
                self.log_dict(
                    {f"train/weight_{t.name}": w for t, w in zip(self.terms, self.balance_weights, strict=True)}
                )
            if self._causal_w is not None:  # the last chunk's weight: near 1 once every time is resolved
                self.log("train/causal_weight_min", self._causal_w[-1])
            learned = getattr(self.pde, "learned", None)
            if callable(learned):  # inverse problems: the PDE's trainable coefficients, e.g. pde/nu
                self.log_dict({f"pde/{k}": float(v) for k, v in learned().items()})
            self.log("perf/wall_s", now - self._t0)
            if self._mark is not None and self.global_step > self._mark[0]:
                rate = (self.global_step - self._mark[0]) / (now - self._mark[1])
                self.log("perf/it_per_s", rate, prog_bar=True)
                if self._loss_ms is not None:  # loss-forward time / mean step time
                    self.log("perf/deriv_share", self._loss_ms / 1e3 * rate)
            if self.device.type == "cuda":
                self.log("perf/gpu_mem_gb", torch.cuda.max_memory_allocated(self.device) / 2**30)
            self._mark = (self.global_step, now)
        return loss

    def losses(self, pts: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """The weighted total and the per-term (mean square, causally weighted if asked) losses at ``pts``.

        Weights: the configured ``loss_weights`` times the grad-norm weights (1 unless ``balance.every > 0``),
        which are updated first on the balancing cadence (Adam phase only; under DDP from rank-mean norms).
        """
        w = self.balance_weights
        if self.balancer is not None:  # the compiled backward keeps its inputs: the in-place update below must
            w = w.clone()  # not change the weights it saved (autograd's version check would refuse the backward)
        total, losses, weights = (self._compiled_terms or self.weighted_losses)(pts, w)
        if weights is not None:
            self._causal_w = weights
        step = self.global_step
        if (
            self.balancer is not None
            and self.balancer.due(step)
            and not self.in_lbfgs(step)
            and torch.is_grad_enabled()
        ):
            # one backward per term through a compiled step is refused or wrong (AOTAutograd's donated buffers;
            # measured): the norms come from an eager evaluation of the terms (every balance.every steps)
            terms = losses if self._compiled_terms is None else self.term_losses(pts)[0]
            norms = self.balancer.grad_norms(terms, self.net.parameters())
            if self._trainer is not None and self.trainer.world_size > 1:
                norms = self.trainer.strategy.reduce(norms, reduce_op="mean")
            self.balance_weights.copy_(self.balancer.update(self.balance_weights, norms))
            total = self.weighted_total(losses)  # with the moved weights
        return total, losses

    def weighted_losses(
        self, pts: Mapping[str, Tensor], balance_weights: Tensor | None = None
    ) -> tuple[Tensor, dict[str, Tensor], Tensor | None]:
        """:meth:`term_losses` and their :meth:`weighted_total`: the pure function of points, parameters and
        grad-norm weights that ``compile_step`` compiles whole (derivatives, residuals, means, the sum)."""
        losses, causal = self.term_losses(pts)
        return self.weighted_total(losses, balance_weights), losses, causal

    def weighted_total(self, losses: Mapping[str, Tensor], balance_weights: Tensor | None = None) -> Tensor:
        """``Σ loss_weight · grad-norm weight · loss`` over the terms; the grad-norm weights ``(n_terms,)`` are
        the module's current ones unless given."""
        w = self.balance_weights if balance_weights is None else balance_weights
        return sum(self.weights[n] * w[k] * v for k, (n, v) in enumerate(losses.items()))

    def optimizer_step_on(self, pts: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """One optimizer step (manual optimization): Adam (+ its schedule) before ``lbfgs_from``, L-BFGS after.

        Every call is one step of ``trainer.max_steps`` whichever the phase; an L-BFGS step evaluates its closure
        up to ``max_iter`` times. With ``nonfinite="skip"`` a non-finite batch takes a step with no gradient
        (Adam leaves parameters and moments alone), so the step count still advances.
        """
        adam, lbfgs = self._optimizers()
        if self.in_lbfgs(self.global_step):
            result: dict[str, object] = {}

            def closure() -> Tensor:
                self.closure_calls += 1
                lbfgs.zero_grad()
                loss, losses = self.losses(pts)
                self.backward_step(loss)  # under DDP the gradients are averaged over ranks here
                result.update(loss=loss.detach(), losses={k: v.detach() for k, v in losses.items()})
                if self.trainer.world_size > 1:  # the line search must see one objective on every rank
                    return self.trainer.strategy.reduce(loss.detach(), reduce_op="mean")
                return loss

            lbfgs.step(closure=closure)
            self._guard(result["losses"])
            return result["loss"], result["losses"]
        if self._time_losses:  # host syncs around the loss computation, on logging steps only
            self._sync()
            t0 = time.perf_counter()
        loss, losses = self.losses(pts)
        if self._time_losses:
            self._sync()
            self._loss_ms = (time.perf_counter() - t0) * 1e3
        adam.zero_grad()
        if self._guard(losses):
            adam.step()  # no gradients: no update, but the step counts
            if self._trainer is not None:  # fail once too many were skipped for the run to pass
                self.guard.check_skips(self.global_step, self.trainer.max_steps)
            return loss.detach(), losses
        self.backward_step(loss)
        if self.grad_clip is not None:
            self.clip_gradients(adam, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")
        adam.step()
        sched = self.lr_schedulers()
        if sched is not None:
            sched.step()
        return loss.detach(), {k: v.detach() for k, v in losses.items()}

    def backward_step(self, loss: Tensor) -> None:
        """``manual_backward(loss)``, or ``loss.backward()`` where the two are the same (:meth:`plain_backward`)."""
        if self._direct_backward:
            loss.backward()
        else:
            self.manual_backward(loss)

    def plain_backward(self) -> bool:
        """Whether Lightning's ``manual_backward`` would only call ``loss.backward()``: one device, a precision
        plugin that does not scale the loss (32-true, 64-true), no profiler, and no callback or module hook on the
        backward. Its wrapper then only calls empty hooks, ~0.15 ms a step on a 2-core CPU (measured: 3% of a
        compiled Burgers step), which the step skips. Anything else (DDP, mixed precision, a profiler, a gradient
        logging callback) goes through ``manual_backward``."""
        trainer = self.trainer
        hooks = ("on_before_backward", "on_after_backward")
        return (
            type(trainer.strategy) is SingleDeviceStrategy
            and type(trainer.precision_plugin) in (Precision, DoublePrecision)
            and isinstance(trainer.profiler, PassThroughProfiler)
            and not any(is_overridden(h, cb, L.Callback) for cb in trainer.callbacks for h in hooks)
            and not any(is_overridden(h, self, L.LightningModule) for h in (*hooks, "backward"))
        )

    def _optimizers(self):
        opts = self.optimizers()
        opts = opts if isinstance(opts, list) else [opts]
        return opts[0], (opts[1] if len(opts) > 1 else None)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # ---- non-finite guard (pinnkit.guard) ------------------------------------------------------------------
    def _guard(self, losses: dict[str, Tensor]) -> bool:
        """Record this step's losses in the guard (True: skip the step, with ``nonfinite="skip"``); read the guard
        back after L-BFGS steps (whose closure already synced) and on the logging cadence. Validation start and
        the end of training read it whatever the cadence."""
        skip = self.guard.record(losses, self.global_step)
        if self.guard.mode == "skip":
            return skip
        if self.in_lbfgs(self.global_step) or self.logging_step():
            self.guard.check(self.global_step)
        return False

    def nonfinite_report(self) -> str | None:
        """Why the current state must not be saved (a NaN/Inf loss or parameter), or ``None``."""
        return self.guard.report(self.global_step, self.parameters())

    def on_validation_start(self) -> None:
        """Before any checkpoint of this validation is written: stop if a loss or parameter is non-finite."""
        if self._trainer is not None and not self.trainer.sanity_checking:
            self.guard.check(self.global_step, self.parameters())

    # ---- validation ---------------------------------------------------------------------------------------
    def val_data(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Grid points in the domain ``(P, d)``, their reference ``(P, m)``, fixed interior points and the mask
        of the grid points kept ``(n_1 * ... * n_d,)`` (all of a box's grid), cached on the device."""
        if self._val is None or self._val[0].device != self.device or self._val[0].dtype != self.dtype:
            _, mesh = self.pde.grid()
            flat = mesh.reshape(-1, mesh.shape[-1]).to(self.device)
            mask = self.pde.domain.contains(flat)
            flat = flat[mask]
            ref = self.pde.exact(flat).reshape(flat.shape[0], -1)
            gen = torch.Generator(device=self.device).manual_seed(self.seed + 7919)
            inner = self.pde.domain.sample("interior", self.val_points, gen, self.dtype, self.device)
            self._val = (flat.to(self.dtype), ref.to(self.dtype), inner, mask)
        return self._val

    def validation_step(self, batch: int, batch_idx: int) -> None:
        grid, ref, inner, _ = self.val_data()
        rank, world = self._rank_world()
        grid, ref = grid[rank::world], ref[rank::world]  # each rank its share of the grid
        with torch.no_grad():
            pred = torch.cat([self.net(chunk) for chunk in grid.split(65536)])
            sums = torch.stack([(pred - ref).square().sum(), ref.square().sum()])
        if world > 1:  # numerator and denominator summed over ranks, then divided: never a mean of ratios
            sums = self.trainer.strategy.reduce(sums, reduce_op="sum")
        self.log("val/l2_rel", torch.sqrt(sums[0] / sums[1]), prog_bar=True, batch_size=1, sync_dist=world > 1)
        interior = [t for t in self.terms if t.region == "interior"]
        with torch.enable_grad():
            for t in interior:
                loss = self.term_loss(t, inner).detach()  # the same points on every rank
                self.log(f"val/loss_{t.name}", loss, batch_size=1, sync_dist=world > 1)

    # ---- set-up -------------------------------------------------------------------------------------------
    def check_shapes(self) -> None:
        """The net must map ``(N, d)`` points of this PDE to ``(N, m)`` fields; say so clearly if not."""
        d, m = len(self.pde.axes), len(self.pde.fields)
        x = self.pde.domain.sample("interior", 2, torch.Generator(device=self.device).manual_seed(0), self.dtype,
                                   self.device)  # fmt: skip
        try:
            with torch.no_grad():
                y = self.net(x)
        except RuntimeError as err:
            raise ValueError(
                f"the network does not take points of {self.pde.name} (shape (N, {d}) over axes {self.pde.axes}): {err}"
            ) from err
        if y.shape != (2, m):
            raise ValueError(
                f"the network maps (N, {d}) points to {tuple(y.shape[1:])} per point; {self.pde.name} needs {m} "
                f"output fields {self.pde.fields}"
            )

    def on_fit_start(self) -> None:
        self._segment = (time.perf_counter(), 0)  # the step is set at train start, after a checkpoint is restored
        kinds = [type(c) for c in self.trainer.callbacks]
        first_lr = next((i for i, k in enumerate(kinds) if issubclass(k, LearningRateMonitor)), len(kinds))
        if self.steps_per_batch > 1 and (StepsPerBatch not in kinds or kinds.index(StepsPerBatch) > first_lr):
            raise ValueError(
                f"steps_per_batch={self.steps_per_batch} needs pinnkit.module.StepsPerBatch() among the trainer's "
                "callbacks, before any LearningRateMonitor (train() puts it first), else logged step numbers and "
                "the log cadence would count batches"
            )
        self.check_shapes()  # before the sanity validation, which would otherwise fail first and cryptically

    def on_train_start(self) -> None:
        self._t0 = time.perf_counter()
        self._segment = (self._segment[0], self.global_step)
        self._direct_backward = self.plain_backward()
        pts = self.batch_points(self.global_step)
        batches = [(t.needs, pts[t.name]) for t in self.terms]
        if self.fuse_terms and len(self.terms) > 1:  # the one fused call the steps will make
            batches = [self._fused(pts)[:2]]
        for needs, x in batches:  # a backend may tune itself on the real net and points (auto times candidates)
            if any(is_derivative_name(n) for n in needs):
                self.derivative.prepare(self.net, x, needs, axes=self.pde.axes, fields=self.pde.fields)
        report = getattr(self.derivative, "report", None)
        if report and self.logger is not None:
            self.logger.log_hyperparams({"derivative_auto": report})
        if not self.checks:
            return
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        x = self.pde.domain.sample("interior", 8, gen, self.dtype, self.device)
        check_pointwise(self.net, x)
        for t in self.terms:
            if any(is_derivative_name(n) for n in t.needs):
                pts = self.pde.domain.sample(t.region, 8, gen, self.dtype, self.device)
                check_reaches_params(
                    self.derivative, self.net, pts, self.net.parameters(), t.needs, t.residual,
                    axes=self.pde.axes, fields=self.pde.fields,
                )  # fmt: skip

    def segments(self) -> tuple[float, list[dict]]:
        """Training time (s) over every segment of the run so far, and the segments ``{"steps": [from, to],
        "time_s"}``: a resumed run's earlier ones (from its checkpoint) and this one, up to now."""
        t0, step0 = self._segment
        now = time.perf_counter() - t0
        return self.time_before + now, [*self.segments_before, {"steps": [step0, self.global_step], "time_s": now}]

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Store, in plain types, what :mod:`pinnkit.predict` and resuming need: the resolved config, the run's
        identity (:func:`pinnkit.resume.run_identity`), the W&B run id, time and segments, skipped steps. The
        checkpoint I/O adds the content hash."""
        time_s, segments = self.segments()
        checkpoint["pinnkit"] = {
            "format": FORMAT,
            "config": self.run_config,
            "identity": run_identity(self.run_config, self.pde),
            "wandb_id": getattr(self, "wandb_id", None),
            "time_s": time_s,
            "segments": segments,
            "skipped_steps": self.guard.skipped,
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        meta = checkpoint.get("pinnkit") or {}
        self.time_before = float(meta.get("time_s", 0.0))
        self.segments_before = list(meta.get("segments", []))
        self.guard.skipped = int(meta.get("skipped_steps", 0))

    def configure_optimizers(self):
        adam = self.optimizer_factory(self.parameters())
        opts = [adam] if self.lbfgs_factory is None else [adam, self.lbfgs_factory(self.parameters())]
        if self.scheduler_factory is None:
            return opts
        return opts, [{"scheduler": self.scheduler_factory(adam), "interval": "step"}]

    def train_dataloader(self) -> DataLoader:
        return DataLoader(Ticks(), batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return DataLoader([0], batch_size=None)


def _options(name: str, given: Mapping[str, float] | None, defaults: dict[str, float]) -> dict[str, float]:
    """``defaults`` updated by ``given``; unknown keys are an error naming the valid ones."""
    unknown = set(given or {}) - set(defaults)
    if unknown:
        raise ValueError(f"{name} has unknown keys {sorted(unknown)}; valid: {sorted(defaults)}")
    return {**defaults, **{k: float(v) for k, v in (given or {}).items()}}
