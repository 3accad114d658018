"""The solution on the PDE's evaluation grid: the prediction beside the reference (where there is one), as arrays
and as ``solution.npz``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .atomic import save_npz

Solution = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]  # coordinates, prediction, reference


@torch.no_grad()
def grid_solution(module) -> Solution:
    """The grid's coordinates, prediction and reference: ``pred, ref (*grid, m)``, NaN at grid points outside a
    non-box domain; ``ref`` is ``None`` for a PDE without a reference. The grid points and their reference come
    from the module's cache (:meth:`~pinnkit.training.PINNModule.plot_data`), so the reference is not evaluated
    again per plot (for a plane of a high-dimensional PDE, a Monte Carlo reference included)."""
    coords, mesh = module.pde.grid()
    val = module.plot_data()
    flat, ref, mask = val.points, val.reference, val.mask
    pred = torch.cat([module.net(c) for c in flat.split(65536)])
    both = pred[:, None] if ref is None else torch.stack([pred, ref.to(pred.dtype)], 1)
    full = torch.full((mask.shape[0], *both.shape[1:]), float("nan"), dtype=pred.dtype, device=pred.device)
    full[mask] = both
    full = full.reshape(*mesh.shape[:-1], *both.shape[1:]).cpu().numpy()
    coords = {k: v.cpu().numpy() for k, v in coords.items()}
    return coords, full[..., 0, :], None if ref is None else full[..., 1, :]


def save_solution(module, path: Path) -> None:
    """Write ``solution.npz``: 1-D coordinates by axis name (``t``, ``x``, ...), ``u_pred`` of shape ``(*grid)``
    for one field or ``(*grid, m)`` (NaN outside a non-box domain), ``fields``; where the PDE has a reference also
    ``u_ref`` (same shape), ``l2_rel`` (all fields), ``l2_rel_<field>``, ``linf`` (over the domain's grid points)."""
    coords, pred, ref = grid_solution(module)
    fields = module.pde.fields
    stats, extra = {}, {}
    if ref is not None:
        err = pred - ref
        stats = {"l2_rel": np.sqrt(np.nansum(err**2) / np.nansum(ref**2)), "linf": np.nanmax(np.abs(err))}
        for i, f in enumerate(fields):
            stats[f"l2_rel_{f}"] = np.sqrt(np.nansum(err[..., i] ** 2) / np.nansum(ref[..., i] ** 2))
        extra["u_ref"] = ref[..., 0] if len(fields) == 1 else ref
    if len(fields) == 1:
        pred = pred[..., 0]
    save_npz(path, u_pred=pred, **extra, fields=np.array(fields), **coords, **stats)
