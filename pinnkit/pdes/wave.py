"""Wave equation: u_tt = c² u_xx on x ∈ [0, 1], t ∈ [0, 1]; u(0, x) = sin(πx) + sin(4πx)/2, u_t(0, x) = 0,
u(t, 0) = u(t, 1) = 0 — the initial velocity is a derivative initial condition.

Exact solution (standing waves): u = sin(πx) cos(cπt) + sin(4πx) cos(4cπt) / 2.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..derivatives.names import combination
from ..domain import Box
from .base import PDE, Term


class Wave(PDE):
    name = "wave"
    axes = ("t", "x")
    fields = ("u",)

    def __init__(self, c: float = 1.0, nt: int = 101, nx: int = 201, hard: bool = False) -> None:
        super().__init__(Box({"t": (0.0, 1.0), "x": (0.0, 1.0)}), {"t": nt, "x": nx}, hard)
        if c <= 0:
            raise ValueError(f"wave: c must be > 0, got {c}")
        self.c = c

    def terms(self) -> list[Term]:
        op = combination("u", {"tt": 1.0, "xx": -(self.c**2)})  # u_tt - c² u_xx: one taylor channel
        pde = Term("pde", "interior", (op,), lambda d, x: d[op])
        if self.hard:
            return [pde]
        return [
            pde,
            Term("ic", "initial", ("u",), lambda d, x: d["u"] - self.exact(x)[..., 0]),
            Term("ic_t", "initial", ("u_t",), lambda d, x: d["u_t"]),
            Term("bc", "boundary", ("u",), lambda d, x: d["u"]),
        ]

    def ansatz(self, x, ops):
        """``u = u0(x) + t² x (1 - x) N`` with ``u0 = sin(πx) + sin(4πx)/2``: u(0), u_t(0) and u(t, 0) = u(t, 1) = 0
        by construction."""
        t, xs = ops.col(x, 0), ops.col(x, 1)
        u0 = ops.sin(xs * math.pi) + ops.sin(xs * (4 * math.pi)) * 0.5
        return u0, t * t * xs * (1.0 - xs)

    def exact(self, x: Tensor) -> Tensor:
        t, xs, w = self.col(x, "t"), self.col(x, "x"), math.pi * self.c
        u = torch.sin(math.pi * xs) * torch.cos(w * t) + 0.5 * torch.sin(4 * math.pi * xs) * torch.cos(4 * w * t)
        return u.unsqueeze(-1)
