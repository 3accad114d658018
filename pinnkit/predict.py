"""Load a trained pinnkit checkpoint and evaluate u and any named derivatives at arbitrary points.

Python::

    from pinnkit.predict import load, predict
    module = load("outputs/.../checkpoints/best.ckpt")
    d = predict(module, x, needs=("u", "u_x", "u_xx"))     # x (..., d) -> d["u_x"] (...,)

Command line::

    python -m pinnkit.predict CKPT POINTS.npy --needs u u_x u_xx --out pred.npz

The module is rebuilt from the config stored in the checkpoint only through the allow-list of
:mod:`pinnkit.trusted` (pinnkit's PDEs, nets and backends, torch's optimizers): a checkpoint of a run with your
own classes needs ``allow_targets=["mypkg"]`` / ``--allow-target mypkg``. Points files: ``.npy``, ``.npz`` (one
array, or one named ``x``), ``.csv``/``.txt`` (numbers; a header row naming the PDE's axes puts the columns in
axis order).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from .atomic import save_npz
from .build import build
from .checkpoints import CheckpointError, read_checkpoint
from .derivatives import Backend, Derivatives
from .resume import check_weights_fit
from .training import PINNModule
from .trusted import UntrustedTargetError, check_targets


def load(path: str | Path, device: str | torch.device = "cpu", allow_targets: Sequence[str] = ()) -> PINNModule:
    """The module a checkpoint holds, rebuilt from its stored config, in eval mode on ``device``.

    Every ``_target_`` in the stored config must pass :func:`pinnkit.trusted.check_targets` (``allow_targets``:
    prefixes of your own packages you trust) before anything is imported or built.
    """
    ckpt = read_checkpoint(path)
    cfg = ckpt["pinnkit"].get("config")
    if not isinstance(cfg, dict) or not cfg:
        raise CheckpointError(f"checkpoint {str(path)!r} holds no training config: it cannot be rebuilt")
    # only what build() reads: the trainer, callbacks, logger and launcher sections are never instantiated here
    cfg = {k: v for k, v in cfg.items() if k not in ("trainer", "callbacks", "logger", "hydra", "paths")}
    cfg["trainer"] = {"precision": str((ckpt["pinnkit"]["config"].get("trainer") or {}).get("precision", "32-true"))}
    check_targets(cfg, allow_targets, source=f"checkpoint {str(path)!r}")
    module = build(OmegaConf.create(cfg), read_data=False)  # measured data shaped the weights: not read again
    check_weights_fit(ckpt, module, path)
    module.load_state_dict(ckpt["state_dict"])  # build() already gave the module the run's dtype
    return module.to(device=device).eval()


class PointsFileError(ValueError):
    """A points file is missing, of an unknown kind, or not numbers of shape (..., d)."""


def read_points(path: str | Path, axes: Sequence[str]) -> np.ndarray:
    """Points ``(..., d)`` from ``.npy``, ``.npz`` or ``.csv``/``.txt`` (module doc), as float64."""
    path = Path(path)
    kinds = ".npy, .npz, .csv, .txt"
    if not path.is_file():
        raise PointsFileError(f"points file {str(path)!r} does not exist" + (" (a directory)" if path.is_dir() else ""))
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                names = list(f.files)
                pick = names if len(names) == 1 else [n for n in names if n in ("x", "points")]
                if len(pick) != 1:
                    raise PointsFileError(f"{str(path)!r} holds arrays {names}: keep one, or name the points 'x'")
                x = f[pick[0]]
        elif suffix in (".csv", ".txt"):
            x = _read_table(path, axes)
        else:
            raise PointsFileError(f"points file {str(path)!r} is not one of {kinds}")
    except PointsFileError:
        raise
    except Exception as err:
        raise PointsFileError(f"cannot read points from {str(path)!r} ({suffix or 'no suffix'}): {err}") from err
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise PointsFileError(f"points in {str(path)!r} are {x.dtype} values, not real numbers")
    return x.astype(np.float64)


def _read_table(path: Path, axes: Sequence[str]) -> np.ndarray:
    first = path.read_text().splitlines()[:1]
    delim = "," if first and "," in first[0] else None
    header = [h.strip() for h in first[0].split(delim)] if first else []
    if header and all(h in axes for h in header) and sorted(header) == sorted(axes):
        x = np.loadtxt(path, delimiter=delim, skiprows=1, ndmin=2)
        return x[:, [header.index(a) for a in axes]]
    return np.loadtxt(path, delimiter=delim, ndmin=2)


def predict(
    module: PINNModule, x: torch.Tensor | np.ndarray, needs: Sequence[str] | None = None, backend: Backend | None = None
) -> Derivatives:
    """``u`` and the ``needs`` (names over the PDE's axes and fields) at ``x (..., d)``; detached from the graph.

    ``needs=None`` gives the full ``jac``/``hess``; the backend is the run's unless one is given.
    """
    x = torch.as_tensor(x, dtype=module.dtype, device=module.device)
    pde = module.pde
    if x.shape[-1] != len(pde.axes):
        raise ValueError(
            f"points must have shape (..., {len(pde.axes)}) over the axes {pde.axes}, got {tuple(x.shape)}"
        )
    with torch.enable_grad():
        d = (backend or module.derivative)(module.net, x, needs, axes=pde.axes, fields=pde.fields)
    return d.detach()


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m pinnkit.predict", description="Evaluate a checkpoint at points.")
    p.add_argument("checkpoint")
    p.add_argument("points", help=".npy, .npz or .csv file of shape (..., d) over the PDE's axes")
    p.add_argument("--needs", nargs="+", default=["u"], help="names, e.g. u u_x u_xx (default: u)")
    p.add_argument("--out", default="prediction.npz", help="output .npz (the suffix is added if missing)")
    p.add_argument(
        "--allow-target",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="trust _target_s under PACKAGE in the checkpoint's config (your own PDE or net); repeatable",
    )
    args = p.parse_args(argv)
    out_path = Path(args.out) if args.out.endswith(".npz") else Path(args.out + ".npz")
    try:
        module = load(args.checkpoint, allow_targets=args.allow_target)
        d = predict(module, read_points(args.points, module.pde.axes), args.needs)
        out = {n: d[n].cpu().numpy() for n in args.needs}
    except (CheckpointError, UntrustedTargetError, PointsFileError, ValueError, KeyError) as err:
        p.exit(2, f"{p.prog}: error: {err}\n")
    save_npz(out_path, **out)
    print(f"wrote {out_path}: " + ", ".join(f"{k} {v.shape}" for k, v in out.items()))


if __name__ == "__main__":
    main()
