"""What a validation logs: ``val/l2_rel`` against the reference over the validation points (each rank its share,
numerator and denominator summed over ranks, then divided: never a mean of ratios) and ``val/loss_<term>`` of the
interior terms at the held-out residual points (the same points on every rank)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..points import ValidationSet

if TYPE_CHECKING:
    from .module import PINNModule


def log_errors(module: PINNModule, val: ValidationSet, rank: int, world: int) -> None:
    """Log the validation metrics of ``module`` on ``val``, from rank ``rank`` of ``world``."""
    grid, ref = val.shard(rank, world)
    with torch.no_grad():
        pred = torch.cat([module.net(chunk) for chunk in grid.split(65536)])
        sums = torch.stack([(pred - ref).square().sum(), ref.square().sum()])
    if world > 1:
        sums = module.trainer.strategy.reduce(sums, reduce_op="sum")
    module.log("val/l2_rel", torch.sqrt(sums[0] / sums[1]), prog_bar=True, batch_size=1, sync_dist=world > 1)
    with torch.enable_grad():
        for t in (t for t in module.terms if t.region == "interior"):
            loss = module.loss_fn.term_loss(module.net, t, val.residual_points).detach()
            module.log(f"val/loss_{t.name}", loss, batch_size=1, sync_dist=world > 1)
