"""A manufactured 3-field problem in 3-D that exercises full Jacobians and Hessians (d = 3, m = 3).

Steady viscous vector Burgers: -Δu + (∇u) u = s on [0, 1]³, u = u* on the boundary, with the exact solution
u*_k = sin(a_k · x) (rows a_k of a fixed matrix A) and the source s chosen so that u* solves it:
s_k = |a_k|² sin(a_k · x) + (Σ_j u*_j A_kj) cos(a_k · x).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..domain import Box
from .base import PDE, Term

WAVES = [[1.0, 0.5, 0.2], [0.3, 1.2, -0.4], [-0.6, 0.1, 0.9]]


class Vector3D(PDE):
    name = "vector3d"
    axes = ("x", "y", "z")
    fields = ("u", "v", "w")

    def __init__(self, scale: float = math.pi / 2, n: int = 21) -> None:
        super().__init__(Box({a: (0.0, 1.0) for a in self.axes}, time=None), {a: n for a in self.axes})
        self.register_buffer("waves", scale * torch.tensor(WAVES))

    def terms(self) -> list[Term]:
        return [
            Term("pde", "interior", ("jac", "hess"), self.residual),
            Term("bc", "boundary", ("u", "v", "w"), lambda d, x: d.u - self.exact(x)),
        ]

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        """``(..., 3)``: -trace(hess) + jac @ u - source."""
        laplacian = torch.diagonal(d.hess, dim1=-2, dim2=-1).sum(-1)  # (..., 3)
        advection = (d.jac @ d.u.unsqueeze(-1)).squeeze(-1)  # (..., 3)
        return -laplacian + advection - self.source(x)

    def _phase(self, x: Tensor) -> Tensor:
        return x @ self.waves.to(x.dtype).T  # (..., 3): a_k · x

    def exact(self, x: Tensor) -> Tensor:
        return torch.sin(self._phase(x))

    def source(self, x: Tensor) -> Tensor:
        a = self.waves.to(x.dtype)
        phase = self._phase(x)
        u = torch.sin(phase)
        return (a * a).sum(-1) * u + (u @ a.T) * torch.cos(phase)
