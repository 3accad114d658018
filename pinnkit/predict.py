"""Load a trained pinnkit checkpoint and evaluate u and any named derivatives at arbitrary points.

Python::

    from pinnkit.predict import load, predict
    module = load("outputs/.../checkpoints/best.ckpt")
    d = predict(module, x, needs=("u", "u_x", "u_xx"))     # x (..., d) -> d["u_x"] (...,)

Command line::

    python -m pinnkit.predict CKPT POINTS.npy --needs u u_x u_xx --out pred.npz
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from .checkpoints import CheckpointError, check_matches, read_checkpoint
from .derivatives import Backend, Derivatives
from .module import PINNModule


def load(path: str | Path, device: str | torch.device = "cpu") -> PINNModule:
    """The module a checkpoint holds, rebuilt from its stored config, in eval mode on ``device``."""
    ckpt = read_checkpoint(path)
    cfg = ckpt["pinnkit"].get("config")
    if not cfg:
        raise CheckpointError(f"checkpoint {str(path)!r} holds no training config: it cannot be rebuilt")
    from .train import build  # train imports this package's modules; import here to keep the graph acyclic

    module = build(OmegaConf.create(cfg))
    check_matches(ckpt, module, path)
    module.load_state_dict(ckpt["state_dict"])  # build() already gave the module the run's dtype
    return module.to(device=device).eval()


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
    p.add_argument("points", help=".npy file of shape (..., d) over the PDE's axes")
    p.add_argument("--needs", nargs="+", default=["u"], help="names, e.g. u u_x u_xx (default: u)")
    p.add_argument("--out", default="prediction.npz")
    args = p.parse_args(argv)
    module = load(args.checkpoint)
    d = predict(module, np.load(args.points), args.needs)
    out = {n: d[n].cpu().numpy() for n in args.needs}
    np.savez(args.out, **out)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v.shape}" for k, v in out.items()))


if __name__ == "__main__":
    main()
