"""Figures a researcher can trust, written at each validation and at the end of a run.

- ``solution_step<k>.png``: per field, prediction and reference on one shared colour scale (a diverging palette
  centred at 0 when the values change sign, else a sequential one), and the signed error ``prediction - reference``
  on a diverging palette centred at 0. The first plotted axis is horizontal (``t`` for ``(t, x)`` problems, ``x``
  for ``(x, y)``), the second vertical; higher-dimensional grids show the middle slice of their leading axes.
- ``slices_step<k>.png``: the solution along the last axis at four values of the one before (``u(x)`` at four
  times for ``(t, x)``), prediction solid, reference dashed.
- ``losses.png``: every logged loss term, the validation metrics and the learning rate against the step.

Without a reference the heatmap and slices hold the prediction alone. Redraw a finished run's figures from its
checkpoint with ``python -m pinnkit.plots <ckpt> [--out DIR]``.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
from lightning.pytorch.loggers import WandbLogger

from .atomic import save_figure
from .solution import Solution, grid_solution


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _limits(*arrays: np.ndarray) -> tuple[str, float, float]:
    """A colour map and limits shared by ``arrays``: centred at 0 when the values change sign."""
    lo = float(min(np.nanmin(a) for a in arrays))
    hi = float(max(np.nanmax(a) for a in arrays))
    if lo < 0 < hi:
        top = max(-lo, hi)
        return "RdBu_r", -top, top
    return "viridis", lo, hi if hi > lo else lo + 1.0


def _plane(coords: dict[str, np.ndarray], *fields: np.ndarray | None):
    """The last two grid axes of ``fields (*grid, m)`` (middle slice of any leading axes) and a note naming it."""
    axes = list(coords)
    lead = axes[:-2]
    mid = tuple(len(coords[a]) // 2 for a in lead)
    note = ", ".join(f"{a} = {coords[a][i]:.3g}" for a, i in zip(lead, mid, strict=True))
    return [None if f is None else f[mid] for f in fields], axes[-2:], note


def heatmaps(solution: Solution, fields: tuple[str, ...]) -> tuple[list[list[dict]], str]:
    """The heatmap panels (module doc) of a :func:`~pinnkit.solution.grid_solution`, one row per field: each a dict
    of ``title``, ``h``/``v`` (horizontal and vertical coordinates), ``c`` (``(len(v), len(h))``, as
    ``pcolormesh`` takes it), ``cmap``, ``vmin``, ``vmax``, ``xlabel``, ``ylabel``; and the slice's note."""
    coords, pred, ref = solution
    (pred, ref), (ha, va), note = _plane(coords, pred, ref)
    rows = []
    for f, name in enumerate(fields):
        values = [("prediction", pred[..., f])] + ([] if ref is None else [("reference", ref[..., f])])
        cmap, lo, hi = _limits(*(v for _, v in values))
        panels = [(label, v, cmap, lo, hi) for label, v in values]
        if ref is not None:
            err = pred[..., f] - ref[..., f]
            top = float(np.nanmax(np.abs(err))) or 1.0
            panels.append(("error (prediction - reference)", err, "RdBu_r", -top, top))
        rows.append([{"title": f"{name}: {label}", "h": coords[ha], "v": coords[va], "c": data.T, "cmap": cmap,
                      "vmin": lo, "vmax": hi, "xlabel": ha, "ylabel": va}
                     for label, data, cmap, lo, hi in panels])  # fmt: skip
    return rows, note


def plot_solution(solution: Solution, fields: tuple[str, ...], path: Path, title: str = "") -> Path:
    """The heatmaps (module doc, :func:`heatmaps`) as a PNG at ``path``."""
    plt = _pyplot()
    rows, note = heatmaps(solution, fields)
    fig, grid = plt.subplots(len(rows), len(rows[0]), figsize=(3.8 * len(rows[0]), 3 * len(rows)), squeeze=False)
    for row, axes in zip(rows, grid, strict=True):
        for panel, ax in zip(row, axes, strict=True):
            im = ax.pcolormesh(panel["h"], panel["v"], panel["c"], shading="auto", cmap=panel["cmap"],
                               vmin=panel["vmin"], vmax=panel["vmax"])  # fmt: skip
            fig.colorbar(im, ax=ax)
            ax.set(title=panel["title"], xlabel=panel["xlabel"], ylabel=panel["ylabel"])
    fig.suptitle(", ".join(t for t in (title, note) if t), fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path


def plot_slices(solution: Solution, fields: tuple[str, ...], path: Path, title: str = "", count: int = 4) -> Path:
    """The slices (module doc) of a :func:`~pinnkit.solution.grid_solution`: ``count`` values of the second-last
    grid axis, first to last."""
    plt = _pyplot()
    coords, pred, ref = solution
    (pred, ref), (ha, va), note = _plane(coords, pred, ref)
    picks = np.unique(np.linspace(0, len(coords[ha]) - 1, count).round().astype(int))
    m = pred.shape[-1]
    fig, grid = plt.subplots(m, len(picks), figsize=(3.2 * len(picks), 2.6 * m), squeeze=False, sharey="row")
    for f in range(m):
        for k, i in enumerate(picks):
            ax = grid[f, k]
            ax.plot(coords[va], pred[i, :, f], "C0-", label="prediction")
            if ref is not None:
                ax.plot(coords[va], ref[i, :, f], "k--", lw=1, label="reference")
            ax.set(title=f"{ha} = {coords[ha][i]:.3g}", xlabel=va, ylabel=fields[f] if k == 0 else None)
    grid[0, 0].legend(fontsize=7)
    fig.suptitle(", ".join(t for t in (title, note) if t), fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path


def plot_losses(metrics_csv: Path, path: Path, title: str = "") -> Path | None:
    """Every ``train/loss*``, ``val/*`` and ``lr-*`` column of a run's ``metrics.csv`` against the step (log
    scale); ``None`` when the file has no such rows yet."""
    with open(metrics_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if value and (key.startswith(("train/loss", "val/", "lr-"))):
                series.setdefault(key, []).append((int(row["step"]), float(value)))
    if not series:
        return None
    plt = _pyplot()
    groups = [("training loss per term", "train/"), ("validation", "val/"), ("learning rate", "lr-")]
    groups = [(t, p) for t, p in groups if any(k.startswith(p) for k in series)]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.4), squeeze=False)
    for ax, (label, prefix) in zip(axes[0], groups, strict=True):
        for key in sorted(k for k in series if k.startswith(prefix)):
            steps, values = zip(*series[key], strict=True)
            ax.plot(steps, np.abs(values), "-" if key != "train/loss" else "k-", lw=1, label=key)
        ax.set(yscale="log", xlabel="step", title=label)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path


class SolutionPlots(L.Callback):
    """At each validation end (rank 0): the heatmaps and slices as PNGs in ``out_dir`` and, with W&B, as images
    ``val/solution`` and ``val/slices``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        l2, res = trainer.callback_metrics.get("val/l2_rel"), trainer.callback_metrics.get("val/loss")
        step = trainer.global_step
        title = f"{module.pde.name}, step {step}"
        if l2 is not None or res is not None:
            title += f", rel L2 {float(l2):.2e}" if l2 is not None else f", held-out residual loss {float(res):.2e}"
        solution, fields = grid_solution(module), module.pde.fields  # the net on the grid once for both
        images = {
            "val/solution": plot_solution(solution, fields, self.out_dir / f"solution_step{step:07d}.png", title),
            "val/slices": plot_slices(solution, fields, self.out_dir / f"slices_step{step:07d}.png", title),
        }
        for lg in trainer.loggers:
            if isinstance(lg, WandbLogger):
                for key, path in images.items():
                    lg.log_image(key=key, images=[str(path)], step=step)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m pinnkit.plots", description="Draw a checkpoint's solution figures.")
    p.add_argument("checkpoint")
    p.add_argument("--out", type=Path, default=None, help="directory (default: the run's plots/ directory)")
    p.add_argument("--allow-target", action="append", default=[], metavar="PACKAGE",
                   help="trust _target_s under PACKAGE in the checkpoint's config; repeatable")  # fmt: skip
    args = p.parse_args(argv)
    from .checkpoints import CheckpointError
    from .predict import load
    from .trusted import UntrustedTargetError

    try:
        module = load(args.checkpoint, allow_targets=args.allow_target)
    except (CheckpointError, UntrustedTargetError) as err:
        p.exit(2, f"{p.prog}: error: {err}\n")
    out = args.out or Path(args.checkpoint).resolve().parents[1] / "plots"
    solution, fields = grid_solution(module), module.pde.fields
    title = f"{module.pde.name}, {Path(args.checkpoint).name}"
    _, pred, ref = solution
    if ref is not None:
        title += f", rel L2 {np.sqrt(np.nansum((pred - ref) ** 2) / np.nansum(ref**2)):.2e}"
    for path in (plot_solution(solution, fields, out / "solution.png", title),
                 plot_slices(solution, fields, out / "slices.png", title)):  # fmt: skip
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
