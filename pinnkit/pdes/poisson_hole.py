"""Poisson's equation on a square plate with a circular hole: Dirichlet data on the outer edges, Neumann data on the
hole's circle, a closed-form solution. The example of geometry built by constructive geometry with named boundary
pieces and outward normals in a residual.

``-Δu = f`` on ``[-1, 1]² \\ {|x| < r}`` with ``u = sin(πx/2) cos(πy/2) + (x + y)/2``: ``u = u*`` on the pieces
``outer.*`` (``boundary:outer``) and ``∂u/∂n = ∇u*·n`` on ``hole`` (``boundary:hole``), ``n`` the domain's outward
unit normal (pointing into the hole).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..derivatives.names import laplacian
from ..geometry import GeometryDomain
from ..shapes import Ball, Rectangle
from .base import PDE, Term


class PoissonHole(PDE):
    name = "poisson_hole"
    axes = ("x", "y")
    fields = ("u",)

    def __init__(self, n: int = 101, radius: float = 0.4) -> None:
        if not 0 < radius < 1:
            raise ValueError(f"poisson_hole: the hole's radius must lie in (0, 1), got {radius}")
        shape = Rectangle([-1.0, -1.0], [1.0, 1.0], name="outer", axes=self.axes) - Ball([0.0, 0.0], radius, "hole")
        super().__init__(GeometryDomain(shape, self.axes), {"x": n, "y": n})
        self.lap = laplacian("u", self.axes)

    def terms(self) -> list[Term]:
        return [
            Term("pde", "interior", (self.lap,), lambda d, x: -d[self.lap] - self.source(x)),
            Term("bc", "boundary:outer", ("u",), lambda d, x: d["u"] - self.exact(x)[..., 0]),
            Term("flux", "boundary:hole", ("u_x", "u_y"), self.flux),
        ]

    def flux(self, d: Derivatives, x: Tensor) -> Tensor:
        """``∇u·n - ∇u*·n (...,)`` with ``n`` the outward normal at ``x``."""
        n = self.domain.normal(x)
        gx, gy = self.gradient(x)
        return (d["u_x"] - gx) * n[..., 0] + (d["u_y"] - gy) * n[..., 1]

    def gradient(self, x: Tensor) -> tuple[Tensor, Tensor]:
        xs, ys = self.col(x, "x"), self.col(x, "y")
        h = math.pi / 2
        return (h * torch.cos(h * xs) * torch.cos(h * ys) + 0.5, -h * torch.sin(h * xs) * torch.sin(h * ys) + 0.5)

    def source(self, x: Tensor) -> Tensor:
        """``f = -Δu* = (π²/2) sin(πx/2) cos(πy/2)``."""
        h = math.pi / 2
        return 2 * h**2 * torch.sin(h * self.col(x, "x")) * torch.cos(h * self.col(x, "y"))

    def exact(self, x: Tensor) -> Tensor:
        xs, ys = self.col(x, "x"), self.col(x, "y")
        h = math.pi / 2
        return (torch.sin(h * xs) * torch.cos(h * ys) + 0.5 * (xs + ys)).unsqueeze(-1)
