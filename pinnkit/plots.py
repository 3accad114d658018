"""Solution, reference and error on the PDE's evaluation grid: heatmaps at validation end, ``solution.npz``."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import WandbLogger

from .atomic import save_figure, save_npz


@torch.no_grad()
def grid_solution(module) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The grid's coordinates, prediction and reference: ``pred, ref (*grid, m)``, NaN at grid points outside a
    non-box domain. The grid points and their reference come from the module's validation cache, so the
    reference is not evaluated again per plot."""
    coords, mesh = module.pde.grid()
    val = module.val_data()
    flat, ref, mask = val.points, val.reference, val.mask
    pred = torch.cat([module.net(c) for c in flat.split(65536)])
    full = torch.full((mask.shape[0], 2, pred.shape[-1]), float("nan"), dtype=pred.dtype, device=pred.device)
    full[mask] = torch.stack([pred, ref.to(pred.dtype)], 1)
    full = full.reshape(*mesh.shape[:-1], 2, -1).cpu().numpy()
    return {k: v.cpu().numpy() for k, v in coords.items()}, full[..., 0, :], full[..., 1, :]


def save_solution(module, path: Path) -> None:
    """Write ``solution.npz``: 1-D coordinates by axis name (``t``, ``x``, ...), ``u_pred`` and ``u_ref`` of shape
    ``(*grid)`` for one field or ``(*grid, m)`` (NaN outside a non-box domain), ``fields``, ``l2_rel`` (all
    fields), ``l2_rel_<field>``, ``linf`` (over the domain's grid points)."""
    coords, pred, ref = grid_solution(module)
    fields = module.pde.fields
    err = pred - ref
    stats = {"l2_rel": np.sqrt(np.nansum(err**2) / np.nansum(ref**2)), "linf": np.nanmax(np.abs(err))}
    for i, f in enumerate(fields):
        stats[f"l2_rel_{f}"] = np.sqrt(np.nansum(err[..., i] ** 2) / np.nansum(ref[..., i] ** 2))
    if len(fields) == 1:
        pred, ref = pred[..., 0], ref[..., 0]
    save_npz(path, u_pred=pred, u_ref=ref, fields=np.array(fields), **coords, **stats)


def plot_solution(module, path: Path, title: str = "") -> Path:
    """One row per field: prediction, reference, |error| on the last two grid axes (middle slice of the rest)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    coords, pred, ref = grid_solution(module)
    axes = list(coords)
    mid = tuple(n // 2 for n in pred.shape[:-3])  # middle slice of any leading grid axes
    pred, ref = pred[mid], ref[mid]
    (ya, yv), (xa, xv) = (axes[-2], coords[axes[-2]]), (axes[-1], coords[axes[-1]])
    m = pred.shape[-1]
    fig, grid = plt.subplots(m, 3, figsize=(11, 3 * m), squeeze=False)
    for f in range(m):
        for k, (name, data) in enumerate(
            (("prediction", pred[..., f]), ("reference", ref[..., f]), ("|error|", np.abs(pred[..., f] - ref[..., f])))
        ):
            ax = grid[f, k]
            im = ax.pcolormesh(xv, yv, data, shading="auto", cmap="magma" if k == 2 else "RdBu_r")
            fig.colorbar(im, ax=ax)
            ax.set(title=f"{module.pde.fields[f]}: {name}", xlabel=xa, ylabel=ya)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path


class SolutionPlots(L.Callback):
    """At each validation end (rank 0): a heatmap PNG in ``out_dir`` and, with W&B, the same as an image."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        l2 = trainer.callback_metrics.get("val/l2_rel")
        title = f"{module.pde.name}, step {trainer.global_step}" + (
            f", rel L2 {float(l2):.2e}" if l2 is not None else ""
        )
        path = plot_solution(module, self.out_dir / f"solution_step{trainer.global_step:07d}.png", title)
        for lg in trainer.loggers:
            if isinstance(lg, WandbLogger):
                lg.log_image(key="val/solution", images=[str(path)], step=trainer.global_step)
