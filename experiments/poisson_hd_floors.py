"""What a network must represent to solve ``pde=poisson_hd`` to a given error: the floors of simple fits.

Points uniform in the d-ball have coordinates of size ~1/√d, so the two-body solution ``u = (1 - |x|²) N*(x)`` is
close to ``(1 - |x|²)`` times a low-degree polynomial. This script fits ``N*`` on held-out-style random points of
the ball by least squares and reports the relative L2 error in ``u`` (the metric of ``val/l2_rel``) of

- ``affine``: ``a + b·x``: the floor an optimiser reaches while the network is still effectively linear;
- ``affine + rank-k quadratic``: ``a + b·x + c |x|² + s · xᵀ A_k x``, with ``A_k`` the k largest-magnitude
  eigen-directions of the exact quadratic Taylor term of ``N*`` at the origin (its trace part removed). A network
  whose first layer has width k depends on x through k linear features only, so its quadratic part has rank ≤ k:
  this row is (up to the cubic and higher terms) the best such a network can do.

    python experiments/poisson_hd_floors.py              # d = 100 and 1000, seed 0 (a few seconds)
    python experiments/poisson_hd_floors.py --d 100 --points 20000

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: pinnkit importable

from pinnkit.ball import Ball
from pinnkit.derivatives.names import default_axes
from pinnkit.pdes.poisson_hd import two_body


def quadratic_term(coef: torch.Tensor) -> torch.Tensor:
    """``A (d, d)`` with ``N*(x) = N*(0) + ∇N*(0)·x + xᵀAx + O(|x|³)``: from ``sin ψ_i`` with
    ``ψ_i ≈ 1 + x_i + x_(i+1) - x_(i+1)²/2`` (second order)."""
    d = coef.numel() + 1
    a = torch.zeros(d, d, dtype=coef.dtype)
    i = torch.arange(d - 1)
    c = coef
    a[i + 1, i + 1] -= math.cos(1) / 2 * c  # cos(1) · (-x_(i+1)²/2)
    for p, q in ((i, i), (i, i + 1), (i + 1, i), (i + 1, i + 1)):  # -sin(1)/2 (x_i + x_(i+1))²
        a[p, q] -= math.sin(1) / 2 * c
    return a


def floors(d: int, points: int, ranks: list[int], seed: int) -> list[tuple[str, float]]:
    gen = torch.Generator().manual_seed(seed)
    coef = torch.randn(d - 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # pde.coef_seed=0
    x = Ball(default_axes(d)).sample("interior", points, gen, torch.float64)
    u, _ = two_body(x, coef)
    w = 1 - x.square().sum(-1)
    target = u / w
    a = quadratic_term(coef)
    vals, vecs = torch.linalg.eigh(a - torch.trace(a) / d * torch.eye(d, dtype=a.dtype))
    order = vals.abs().argsort(descending=True)
    rows = []
    for k in [0, *ranks]:
        feats = [torch.ones_like(w)[:, None], x]
        if k:
            top = order[:k]
            quad = ((x @ vecs[:, top]).square() * vals[top]).sum(-1)
            feats += [quad[:, None], x.square().sum(-1, keepdim=True)]
        f = torch.cat(feats, -1)
        fit = f @ torch.linalg.lstsq(f * w[:, None], u[:, None]).solution  # least squares in u, as validated
        err = (w * (fit.squeeze(-1) - target)).norm() / u.norm()
        rows.append(("affine" if k == 0 else f"affine + rank-{k} quadratic", float(err)))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--d", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--points", type=int, default=8000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print("| d | fit | rel L2 in u |\n|---|---|---|")
    for d in args.d:
        ranks = [r for r in (32, 64, 128, 256, 512) if r < d] + [d]
        for name, err in floors(d, args.points, ranks, args.seed):
            print(f"| {d} | {name} | {err:.2e} |")


if __name__ == "__main__":
    main()
