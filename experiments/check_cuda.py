"""Every derivative backend on CUDA against the same computation on CPU (float64), for the README's GPU checks.

    python experiments/check_cuda.py          # exits 1 if any backend differs by more than --tol

Needs a CUDA device; prints one line per backend and request with the largest absolute difference.
"""

from __future__ import annotations

import argparse
import sys

import torch

from pinnkit.derivatives import BACKENDS, get_backend
from pinnkit.nets import MLP, ModifiedMLP

REQUESTS = {"full": None, "heat": ("u_t", "u_xx"), "laplace": ("u_xx+u_yy+u_tt",), "third": ("u_ttt", "v_txy")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tol", type=float, default=1e-10)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    worst = 0.0
    for cls in (MLP, ModifiedMLP):
        torch.manual_seed(0)
        net = cls(3, 2, 16, 3, "tanh", True, [0, -1, -1], [1, 1, 1], ("t", "x", "y"), {"y": 2.0}, 4).double()
        x = torch.rand(64, 3, dtype=torch.float64)
        for name in sorted(BACKENDS):
            backend = get_backend(name)
            for label, needs in REQUESTS.items():
                if backend.max_order is not None and label == "third" and backend.max_order < 3:
                    continue
                kw = {"axes": ("t", "x", "y"), "fields": ("u", "v")}
                cpu = backend(net.cpu(), x, needs, **kw)
                gpu = backend(net.cuda(), x.cuda(), needs, **kw)
                keys = ["jac", "hess"] if needs is None else list(needs)
                err = max(float((gpu[k].detach().cpu() - cpu[k].detach()).abs().max()) for k in keys)
                worst = max(worst, err)
                print(f"{cls.__name__:12s} {name:13s} {label:8s} max |cuda - cpu| = {err:.1e}")
    print(f"worst: {worst:.1e} (tol {args.tol:.0e})")
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
