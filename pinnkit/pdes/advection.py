"""Linear advection: u_t + c u_x = 0 on x ∈ [0, 2π] (periodic), t ∈ [0, 1], u(0, x) = sin(x); c = 20 by default,
the fast-transport case where vanilla PINNs fail (Krishnapriyan et al. 2021). Exact: u = sin(x - ct).

Periodicity is a term (``periodic:x`` pairs u(t, 0) = u(t, 2π)); ``model.periodic={x: 6.283185307179586}``
makes it exact instead.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..derivatives.names import combination
from ..domain import Box
from .base import PDE, Term


class Advection(PDE):
    name = "advection"
    axes = ("t", "x")
    fields = ("u",)

    def __init__(self, c: float = 20.0, nt: int = 101, nx: int = 256, hard: bool = False) -> None:
        super().__init__(Box({"t": (0.0, 1.0), "x": (0.0, 2 * math.pi)}), {"t": nt, "x": nx}, hard)
        self.c = c

    def terms(self) -> list[Term]:
        op = combination("u", {"t": 1.0, "x": self.c})  # u_t + c u_x: one taylor channel
        pde = Term("pde", "interior", (op,), lambda d, x: d[op])
        edge = Term("periodic", "periodic:x", ("u",), lambda d, x: d["u"][..., 0] - d["u"][..., 1])
        if self.hard:
            return [pde, edge]
        return [pde, Term("ic", "initial", ("u",), lambda d, x: d["u"] - torch.sin(self.col(x, "x"))), edge]

    def ansatz(self, x, ops):
        """``u = sin x + t N``: the initial condition by construction (a net periodic in x, ``model.periodic={x:
        6.283185307179586}``, makes the periodicity exact too)."""
        return ops.sin(ops.col(x, 1)), ops.col(x, 0)

    def exact(self, x: Tensor) -> Tensor:
        return torch.sin(self.col(x, "x") - self.c * self.col(x, "t")).unsqueeze(-1)
