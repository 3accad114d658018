"""What a validation logs: ``val/l2_rel`` against the reference over the validation points, where the PDE has
one (each rank its share, numerator and denominator summed over ranks, then divided: never a mean of ratios),
``val/loss_<term>`` of the interior terms at the held-out residual points (the same points on every rank), their
sum ``val/loss``, with held-out measured data ``val/data_rel`` on it and, for each of the PDE's tabulated
references (:meth:`~pinnkit.pdes.PDE.tables`), ``val/<name>_rel`` at its points. The run's objective (best checkpoint,
sweepers, the command's return value) is ``val/l2_rel`` where a reference exists, else ``val/loss``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..observations import data_rel
from ..points import ValidationSet

if TYPE_CHECKING:
    from ..pdes import PDE
    from .module import PINNModule


def objective(pde: PDE) -> str:
    """The metric a run of ``pde`` is judged by: ``val/l2_rel`` with a reference, ``val/loss`` without."""
    return "val/l2_rel" if pde.has_reference else "val/loss"


def log_errors(module: PINNModule, val: ValidationSet, rank: int, world: int) -> None:
    """Log the validation metrics of ``module`` on ``val``, from rank ``rank`` of ``world``."""
    grid, ref = val.shard(rank, world)
    if ref is not None:
        with torch.no_grad():
            pred = torch.cat([module.net(chunk) for chunk in grid.split(65536)])
            sums = torch.stack([(pred - ref).square().sum(), ref.square().sum()])
        if world > 1:
            sums = module.trainer.strategy.reduce(sums, reduce_op="sum")
        module.log("val/l2_rel", torch.sqrt(sums[0] / sums[1]), prog_bar=True, batch_size=1, sync_dist=world > 1)
    held_x = getattr(module.pde, "held_out_x", None)
    if held_x is not None:  # held-out measured rows: the same on every rank
        with torch.no_grad():
            pred = module.net(held_x.to(module.dtype))[
                ..., [module.pde.fields.index(f) for f in module.pde.observed_fields]
            ]
        module.log("val/data_rel", data_rel(pred, module.pde.held_out_values.to(pred.dtype)), batch_size=1)
    for name, table in module.pde.tables().items():  # a few published values: the same on every rank
        with torch.no_grad():
            pred = module.net(table.x.to(module.device, module.dtype))[..., module.pde.fields.index(table.field)]
        module.log(f"val/{name}_rel", data_rel(pred, table.values.to(pred)), batch_size=1)
    total = 0.0
    with torch.enable_grad():
        for t in (t for t in module.terms if t.region == "interior"):
            loss = module.loss_fn.term_loss(module.net, t, val.residual_points).detach()
            module.log(f"val/loss_{t.name}", loss, batch_size=1, sync_dist=world > 1)
            total = total + loss
    module.log("val/loss", total, prog_bar=ref is None, batch_size=1, sync_dist=world > 1)
