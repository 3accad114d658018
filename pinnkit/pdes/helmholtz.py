"""Helmholtz equation: Δu + k² u = q on [-1, 1]², u = 0 on the boundary, with
q = (k² - (a₁² + a₂²) π²) sin(a₁πx) sin(a₂πy), so that u = sin(a₁πx) sin(a₂πy) (a₁ = 1, a₂ = 4, k = 1: the
standard PINN benchmark). The Laplacian is one named sum, ``u_xx+u_yy``. ``hard=True`` makes the boundary
condition exact: ``u = (1 - x²)(1 - y²) N``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..derivatives.names import laplacian
from ..domain import Box
from .base import PDE, Term


class Helmholtz(PDE):
    name = "helmholtz"
    axes = ("x", "y")
    fields = ("u",)

    def __init__(self, k: float = 1.0, a1: int = 1, a2: int = 4, n: int = 201, hard: bool = False) -> None:
        super().__init__(Box({"x": (-1.0, 1.0), "y": (-1.0, 1.0)}, time=None), {"x": n, "y": n}, hard)
        self.k, self.a1, self.a2 = k, a1, a2
        self.lap = laplacian("u", self.axes)

    def terms(self) -> list[Term]:
        pde = Term("pde", "interior", (self.lap, "u"), self.residual)
        return [pde] if self.hard else [pde, Term("bc", "boundary", ("u",), lambda d, x: d["u"])]

    def ansatz(self, x, ops):
        """``u = (1 - x²)(1 - y²) N``: zero on the boundary of the square."""
        xs, ys = ops.col(x, 0), ops.col(x, 1)
        return xs * 0.0, (1.0 - xs * xs) * (1.0 - ys * ys)

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        q = (self.k**2 - (self.a1**2 + self.a2**2) * math.pi**2) * self.exact(x)[..., 0]
        return d[self.lap] + self.k**2 * d["u"] - q

    def exact(self, x: Tensor) -> Tensor:
        u = torch.sin(self.a1 * math.pi * self.col(x, "x")) * torch.sin(self.a2 * math.pi * self.col(x, "y"))
        return u.unsqueeze(-1)
