"""Poisson ``-Δu = f`` in the unit ball of any dimension d, with a two-body manufactured solution.

``u(x) = (1 - |x|²) Σ_(i<d) c_i sin(ψ_i)``, ``ψ_i = x_i + cos(x_(i+1)) + x_(i+1) cos(x_i)``, the coefficients
``c_i`` standard normal from ``coef_seed``: every pair of neighbouring coordinates interacts, and ``u = 0`` on the
sphere. The source is in closed form: with ``s = Σ c_i sin ψ_i`` and ``w = 1 - |x|²``,
``Δu = w Δs - 4 x·∇s - 2d s``, where ``Δ sin ψ_i = cos ψ_i Δψ_i - sin ψ_i |∇ψ_i|²``.

The Laplacian is exact (``estimator.samples=0``: one collapsed channel under ``taylor``, d nested reverse passes
otherwise) or estimated from random directions each step (:mod:`pinnkit.derivatives.estimates`): the cost of an
exact Laplacian grows with d, an estimate's with its number of directions. ``hard=true``: ``u = (1 - |x|²) N(x)``.
Validation scores held-out random points of the ball (``val_points``); the plots show the plane of ``x0, x1``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ..ball import Ball
from ..derivatives.estimates import Estimator
from ..derivatives.names import default_axes, laplacian
from .base import PDE, Term


def two_body(x: Tensor, coef: Tensor) -> tuple[Tensor, Tensor]:
    """``(v, Δv)`` at ``x (..., d)``, each ``(...,)``: ``v = (1 - |x|²) Σ c_i sin ψ_i`` and its Laplacian in closed
    form (module docstring); ``coef (d-1,)``."""
    a, b = x[..., :-1], x[..., 1:]
    psi = a + torch.cos(b) + b * torch.cos(a)
    da, db = 1 - b * torch.sin(a), torch.cos(a) - torch.sin(b)  # ∂ψ/∂x_i, ∂ψ/∂x_(i+1)
    sin, cos = torch.sin(psi), torch.cos(psi)
    s = (coef * sin).sum(-1)
    lap_s = (coef * (cos * (-b * torch.cos(a) - torch.cos(b)) - sin * (da * da + db * db))).sum(-1)
    x_grad_s = (coef * cos * (a * da + b * db)).sum(-1)
    w = 1 - x.square().sum(-1)
    return w * s, w * lap_s - 4 * x_grad_s - 2 * x.shape[-1] * s


class PoissonHD(PDE):
    name = "poisson_hd"
    fields = ("u",)

    def __init__(
        self,
        d: int = 100,
        estimator: Mapping | None = None,
        coef_seed: int = 0,
        val_points: int = 4096,
        n: int = 101,
        hard: bool = False,
    ) -> None:
        if int(d) < 2:
            raise ValueError(f"{self.name}: d must be >= 2, got {d}")
        self.axes = default_axes(int(d))  # x, y (, z) up to d = 3, else x0 .. x{d-1}
        super().__init__(Ball(self.axes), {a: n for a in self.axes[:2]}, hard)
        self.estimator = Estimator(**(estimator or {}))
        self.validation_points = int(val_points)
        gen = torch.Generator().manual_seed(int(coef_seed))
        self.register_buffer("coef", torch.randn(int(d) - 1, generator=gen, dtype=torch.float64), persistent=False)
        self.lap = self.estimator.need(laplacian("u", self.axes))

    def terms(self) -> list[Term]:
        pde = Term("pde", "interior", (self.lap,), lambda d, x: -d[self.lap] - self.source(x))
        if self.hard:
            return [pde]
        return [pde, Term("bc", "boundary", ("u",), lambda d, x: d["u"])]

    def exact(self, x: Tensor) -> Tensor:
        return two_body(x, self.coef.to(x))[0].unsqueeze(-1)

    def source(self, x: Tensor) -> Tensor:
        """``f = -Δu (...,)`` (module docstring)."""
        return -two_body(x, self.coef.to(x))[1]

    def ansatz(self, x, ops):
        return 0.0, 1 - ops.sum(x * x)  # b = 0, φ = 1 - |x|²

    def grid(self) -> tuple[dict[str, Tensor], Tensor]:
        """The plane of the first two axes through the centre (the domain's :meth:`~pinnkit.ball.Ball.slice_grid`)."""
        return self.domain.slice_grid(self.grid_sizes[self.axes[0]])
