"""Poisson equation: -Δu = f on [0, 1]², u = g on the boundary, with the smooth manufactured solution
u = sin(πx) sin(πy) + (x² + y²)/4 (so f = 2π² sin(πx) sin(πy) - 1).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..derivatives.base import laplacian
from ..domain import Box
from .base import PDE, Term


class Poisson(PDE):
    name = "poisson"
    axes = ("x", "y")
    fields = ("u",)

    def __init__(self, n: int = 101) -> None:
        super().__init__(Box({"x": (0.0, 1.0), "y": (0.0, 1.0)}, time=None), {"x": n, "y": n})
        self.lap = laplacian("u", self.axes)

    def terms(self) -> list[Term]:
        return [
            Term("pde", "interior", (self.lap,), self.residual),
            Term("bc", "boundary", ("u",), lambda d, x: d["u"] - self.exact(x)[..., 0]),
        ]

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        xs, ys = self.col(x, "x"), self.col(x, "y")
        f = 2 * math.pi**2 * torch.sin(math.pi * xs) * torch.sin(math.pi * ys) - 1.0
        return -d[self.lap] - f

    def exact(self, x: Tensor) -> Tensor:
        xs, ys = self.col(x, "x"), self.col(x, "y")
        return (torch.sin(math.pi * xs) * torch.sin(math.pi * ys) + (xs**2 + ys**2) / 4).unsqueeze(-1)
