"""What a training step logs on the logging cadence: the losses, the weights that moved them, learned PDE
coefficients and the speed figures (see :mod:`pinnkit.training.module` for the keys)."""

from __future__ import annotations

import time

import lightning as L
import torch
from torch import Tensor


def log_step(module: L.LightningModule, loss: Tensor, losses: dict[str, Tensor]) -> None:
    """Log one step of ``module`` (a :class:`~pinnkit.training.module.PINNModule`): its weighted ``loss`` and the
    per-term ``losses``, plus the timing of the step's loss where it was measured."""
    timing = module.timing
    timing.sync()
    now, ms = time.perf_counter(), timing.loss_ms
    module.log("train/loss", loss, prog_bar=True)
    module.log_dict({f"train/loss_{n}": v for n, v in losses.items()})
    if ms is not None:
        module.log("perf/deriv_ms", ms)
    if module.balancer is not None:
        weights = zip(module.terms, module.balance_weights, strict=True)
        module.log_dict({f"train/weight_{t.name}": w for t, w in weights})
    if module.causal_weights is not None:  # the last chunk's weight: near 1 once every time is resolved
        module.log("train/causal_weight_min", module.causal_weights[-1])
    active = module.phases.last_optimizer  # the phase that took this step only: none for a phase not yet running
    if active is not None and "lr" in active.param_groups[0]:
        module.log(f"lr-{type(active).__name__}", float(active.param_groups[0]["lr"]))
    learned = module.pde.learned()  # inverse problems: the PDE's trainable coefficients, e.g. pde/nu
    if learned:
        module.log_dict({f"pde/{k}": float(v) for k, v in learned.items()})
    module.log("perf/wall_s", now - timing.start)
    rate = timing.rate(module.global_step, now)
    if rate is not None:
        module.log("perf/it_per_s", rate, prog_bar=True)
        if ms is not None:  # loss-forward time / mean step time
            module.log("perf/deriv_share", ms / 1e3 * rate)
    if module.device.type == "cuda":
        module.log("perf/gpu_mem_gb", torch.cuda.max_memory_allocated(module.device) / 2**30)
