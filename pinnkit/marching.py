"""Time-marching windows: train ``[t_start, t_end]`` as ``march.windows`` consecutive windows, each a run of its own
whose initial condition is the previous window's prediction at its end.

``python train.py pde=kuramoto_sivashinsky pde.hard=true march.windows=10`` splits the PDE's window into 10 equal
windows. Window ``k`` is an ordinary run in ``<run dir>/window_<k>/`` (its config, checkpoints, metrics, W&B run,
``solution.npz``) with ``pde.t_start``/``pde.t_end`` set to its slice and ``pde.initial`` to
``<run dir>/initial_<k>.npz``: the previous window's net evaluated at its end time on a periodic grid of the
spatial axis (:data:`SAMPLES` points; :mod:`pinnkit.pdes.profile`). ``march.warm_start=true`` starts each window
from the previous window's weights (``init_weights``); the net's input map sees each window's own box, so the
weights keep their meaning in local time. A chaotic or sharply evolving solution is easier to learn over short
windows, at the price of a window's error entering the next one's initial condition.

The march resumes: a window whose ``summary.json`` says it finished is kept (unless ``overwrite=true``), one stopped
by a signal continues from its ``last.ckpt``. The run directory then holds what a single run's does, for the whole
march: ``summary.json`` (``val/l2_rel`` the stitched error, steps and training time summed, each window's figures,
the error up to each window's end in ``l2_rel_until``) and ``solution.npz`` (the windows' grids stitched, each grid
time once: a window's first time, its initial condition, is the previous window's last), so the accuracy table and
run comparisons read a march as a run; ``march.json`` holds the windows' figures alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from .atomic import save_npz, write_json
from .pdes.profile import periodic_grid, save_profile
from .predict import load
from .resume import differences

#: the PDE settings a march needs (the PDEs that take them, e.g. kuramoto_sivashinsky)
WINDOW_KEYS = ("t_start", "t_end", "initial")
#: samples of a window's initial profile: room for any number of modes below 512, whatever the evaluation grid
SAMPLES = 1024


def window_edges(cfg: DictConfig) -> np.ndarray:
    """The ``windows + 1`` window edges over the PDE's ``[t_start, t_end]``; a ``ValueError`` when the PDE has no
    windows or ``march.windows`` is not a positive count."""
    missing = [k for k in WINDOW_KEYS if k not in cfg.pde]
    if missing:
        raise ValueError(f"march.windows needs a PDE whose config has {list(WINDOW_KEYS)} (kuramoto_sivashinsky); "
                         f"pde={cfg.pde.get('_target_')} lacks {missing}")  # fmt: skip
    windows = cfg.march.windows
    if not isinstance(windows, int) or isinstance(windows, bool) or windows < 1:
        raise ValueError(f"march.windows must be a whole number >= 1 (0: no march), got {windows!r}")
    return np.linspace(float(cfg.pde.t_start), float(cfg.pde.t_end), windows + 1)


def march(cfg: DictConfig, train_fn: Callable[[DictConfig], dict[str, Any]]) -> dict[str, Any]:
    """Run the windows (module doc) with ``train_fn(cfg) -> summary``; write ``march.json`` and the whole march's
    ``summary.json`` and ``solution.npz`` (as a single run's: the stitched grid and error); return the summary."""
    edges = window_edges(cfg)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    initial, previous, summaries = cfg.pde.initial, None, []
    for k in range(len(edges) - 1):
        wdir = out / f"window_{k}"
        wcfg = window_config(cfg, k, edges, initial, previous, wdir)
        summary = None if cfg.overwrite else finished(wdir, wcfg)
        if summary is None:
            summary = train_fn(wcfg)
        previous = summary["last_checkpoint"]
        summaries.append(summary)
        if k + 1 < len(edges) - 1:
            initial = str(out / f"initial_{k + 1}.npz")
            write_initial(previous, float(edges[k + 1]), initial)
    grid, stats = stitched([out / f"window_{k}" for k in range(len(summaries))])
    save_npz(out / "solution.npz", **grid, **{k: v for k, v in stats.items() if k != "l2_rel_until"})
    windows = [{key: s.get(key) for key in ("val/l2_rel", "steps", "time_s", "it_per_s")} for s in summaries]
    write_json(out / "march.json", {"edges": edges.tolist(), "windows": windows, **stats})
    steps, time_s = sum(s["steps"] for s in summaries), sum(s["time_s"] for s in summaries)
    last = summaries[-1]
    result = {
        "val/l2_rel": stats["l2_rel"], "steps": steps, "time_s": time_s, "it_per_s": steps / time_s,
        "objective": "val/l2_rel", "pde": last["pde"], "derivative": last["derivative"], "stopped": None,
        "stop_message": None, "last_checkpoint": previous, "windows": windows, "l2_rel_until": stats["l2_rel_until"],
        **{key: last.get(key) for key in ("git_sha", "versions", "device", "peak_mem_mb", "world_size")},
        "config": resolved(cfg),
    }  # fmt: skip
    write_json(out / "summary.json", result)
    print(f"march: l2_rel={stats['l2_rel']:.2e} over [{edges[0]:g}, {edges[-1]:g}] in {len(summaries)} windows")
    return result


def window_config(
    cfg: DictConfig, k: int, edges: np.ndarray, initial: str | None, previous: str | None, wdir: Path
) -> DictConfig:
    """Window ``k``'s run config: its slice, initial profile, output directory, and (warm start) the previous
    window's weights; a window stopped by a signal resumes from its ``last.ckpt`` (unless ``overwrite=true``)."""
    wcfg = copy.deepcopy(cfg)
    with open_dict(wcfg):
        wcfg.pde.t_start, wcfg.pde.t_end = float(edges[k]), float(edges[k + 1])
        wcfg.pde.initial = initial
        wcfg.paths.output_dir = str(wdir)
        wcfg.march.windows = 0
        if cfg.march.warm_start and previous is not None:
            wcfg.init_weights = previous
        last = wdir / "checkpoints" / "last.ckpt"
        if last.is_file() and not cfg.overwrite:
            wcfg.ckpt_path = str(last)
    return wcfg


def finished(wdir: Path, wcfg: DictConfig) -> dict[str, Any] | None:
    """The summary of a window that ran to its end with the settings ``wcfg`` gives it (kept on a rerun), else
    ``None``; a ``ValueError`` naming the settings when it ran with others (an edited recipe or override)."""
    path = wdir / "summary.json"
    if not path.is_file():
        return None
    summary = json.loads(path.read_text())
    if summary.get("stopped") is not None or not summary.get("last_checkpoint"):
        return None
    aside = ("paths", "ckpt_path", "overwrite", "callbacks")  # where outputs go and how it was resumed
    saved, now = ({k: v for k, v in c.items() if k not in aside} for c in (summary["config"], resolved(wcfg)))
    changed = differences(saved, now, "", ("finished window", "this march"))
    if changed:
        raise ValueError(f"{wdir} holds a finished window trained with other settings ({'; '.join(changed[:5])}): "
                         "overwrite=true trains the march afresh, or give it its own directory")  # fmt: skip
    return summary


def resolved(cfg: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True)


@torch.no_grad()
def write_initial(ckpt: str, t: float, path: str) -> None:
    """The net of checkpoint ``ckpt`` at time ``t`` on the periodic grid of its spatial axis, as a profile file."""
    module = load(ckpt)
    pde = module.pde
    (i,) = pde.domain.spatial
    n = SAMPLES
    x = periodic_grid(pde.domain.lower[i], pde.domain.upper[i], n)
    dtype = next(module.net.parameters()).dtype
    pts = torch.zeros(n, pde.domain.dim, dtype=dtype)
    pts[:, pde.axes.index(pde.domain.time)] = t
    pts[:, i] = torch.as_tensor(x, dtype=dtype)
    save_profile(path, x, module.net(pts)[:, 0].double().numpy())


def stitched(wdirs: list[Path]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The windows' grid solutions together (each time once: a later window's first time is the previous window's
    last), as ``solution.npz``'s arrays, and their relative L2 error, whole and cumulatively up to each window's end
    (``l2_rel_until``)."""
    preds, refs, times = [], [], []
    for k, wdir in enumerate(wdirs):
        with np.load(wdir / "solution.npz") as f:
            rows = slice(1 if k else 0, None)
            preds.append(f["u_pred"][rows].astype(np.float64))
            refs.append(f["u_ref"][rows].astype(np.float64))
            times.append(f["t"][rows])
            x, fields = f["x"], f["fields"]
    pred, ref, t = np.concatenate(preds), np.concatenate(refs), np.concatenate(times)
    # squared error and reference summed up to each grid time (time is the first axis), read at each window's end
    err2 = np.cumsum(((pred - ref) ** 2).reshape(len(t), -1).sum(-1))
    ref2 = np.cumsum((ref**2).reshape(len(t), -1).sum(-1))
    until = [
        {"t": float(t[e]), "l2_rel": float(np.sqrt(err2[e] / ref2[e]))} for e in np.cumsum([len(w) for w in times]) - 1
    ]
    l2 = until[-1]["l2_rel"]
    grid = {"t": t, "x": x, "u_pred": pred, "u_ref": ref, "fields": fields}
    stats = {"l2_rel": l2, f"l2_rel_{fields[0]}": l2, "linf": float(np.abs(pred - ref).max()), "l2_rel_until": until}
    return grid, stats


def is_march(cfg: DictConfig) -> bool:
    """Whether the config asks for a march (``march.windows`` > 0)."""
    return bool(OmegaConf.select(cfg, "march.windows", default=0))
