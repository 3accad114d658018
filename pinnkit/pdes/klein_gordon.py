"""Nonlinear Klein-Gordon: u_tt - α u_xx + β u + γ u³ = f on x ∈ [-1, 1], t ∈ [0, 1] (α = -1, β = 0, γ = 1, the
benchmark of Wang, Teng & Perdikaris 2021), with the manufactured solution u = x cos(5πt) + (xt)³, f from it;
initial value and velocity and Dirichlet data from u.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..derivatives.names import combination
from ..domain import Box
from .base import PDE, Term


class KleinGordon(PDE):
    name = "klein_gordon"
    axes = ("t", "x")
    fields = ("u",)

    def __init__(
        self,
        alpha: float = -1.0,
        beta: float = 0.0,
        gamma: float = 1.0,
        nt: int = 101,
        nx: int = 201,
        hard: bool = False,
    ) -> None:
        super().__init__(Box({"t": (0.0, 1.0), "x": (-1.0, 1.0)}), {"t": nt, "x": nx}, hard)
        self.alpha, self.beta, self.gamma = alpha, beta, gamma

    def terms(self) -> list[Term]:
        exact = lambda x: self.exact(x)[..., 0]  # noqa: E731
        pde = Term("pde", "interior", ("u", self.operator), self.residual)
        if self.hard:
            return [pde]
        return [
            pde,
            Term("ic", "initial", ("u",), lambda d, x: d["u"] - exact(x)),
            Term("ic_t", "initial", ("u_t",), lambda d, x: d["u_t"]),  # u_t(0, x) = 0 for this solution
            Term("bc", "boundary", ("u",), lambda d, x: d["u"] - exact(x)),
        ]

    def ansatz(self, x, ops):
        """``u = x g(t) + t² (1 - x²) N`` with ``g(t) = u(t, 1) = -u(t, -1) = cos(5πt) + t³`` (the boundary data,
        interpolated linearly in x): u(0) = x, u_t(0) = 0 and both boundary values by construction."""
        t, xs = ops.col(x, 0), ops.col(x, 1)
        g = ops.cos(t * (5 * math.pi)) + t * t * t
        return xs * g, t * t * (1.0 - xs * xs)

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        u = d["u"]
        return d[self.operator] + self.beta * u + self.gamma * u**3 - self.source(x)

    @property
    def operator(self) -> str:
        """The need ``u_tt + α u_xx``: one ``taylor`` channel."""
        return combination("u", {"tt": 1.0, "xx": self.alpha})

    def source(self, x: Tensor) -> Tensor:
        t, xs = self.col(x, "t"), self.col(x, "x")
        u = self.exact(x)[..., 0]
        u_tt = -25 * math.pi**2 * xs * torch.cos(5 * math.pi * t) + 6 * t * xs**3
        u_xx = 6 * xs * t**3
        return u_tt + self.alpha * u_xx + self.beta * u + self.gamma * u**3

    def exact(self, x: Tensor) -> Tensor:
        t, xs = self.col(x, "t"), self.col(x, "x")
        return (xs * torch.cos(5 * math.pi * t) + (xs * t) ** 3).unsqueeze(-1)
