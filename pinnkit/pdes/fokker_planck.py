"""Fokker–Planck equation of an Ornstein–Uhlenbeck process in d dimensions, for the log-density.

``dX = −θ X dt + σ dW`` from ``X_0 ~ N(m0 1, v0 I)``: the density stays Gaussian, ``N(m(t) 1, v(t) I)`` with
``m = m0 e^(−θt)`` and ``v = v0 e^(−2θt) + σ²/(2θ) (1 − e^(−2θt))``. Written for ``q = log p`` (a density in d =
100 is far below float range; its log is of order d), ``p_t = θ ∇·(x p) + D Δp`` with ``D = σ²/2`` becomes

    q_t = θ (d + x·∇q) + D (Δq + |∇q|²),

and ``q = −|x − m 1|² / (2v) − (d/2) log(2π v)`` solves it. The initial condition holds by construction
(``q = q0(x) + t N(t, x)``, ``hard=true``) or is a term at ``t = 0``. Points are drawn from the density itself
(:class:`OUCloud`), where the log-density is wanted. The Laplacian is exact or estimated (``estimator``); the
gradient is exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ..ball import DiffusionCloud
from ..derivatives import Derivatives
from ..derivatives.estimates import Estimator
from ..derivatives.names import default_axes, laplacian
from .base import PDE, Term


class OUCloud(DiffusionCloud):
    """``(t, x)`` with ``t`` uniform and ``x`` drawn from the OU density at ``t`` (coordinates independent)."""

    def __init__(self, axes: Sequence[str], horizon: float, theta: float, sigma: float, m0: float, v0: float) -> None:
        self.theta, self.diffusion, self.m0, self.v0 = float(theta), float(sigma) ** 2 / 2, float(m0), float(v0)
        super().__init__(axes, horizon, initial=True)

    def law(self, t: Tensor) -> tuple[Tensor, Tensor]:
        decay = torch.exp(-self.theta * t)
        var = self.v0 * decay * decay + self.diffusion / self.theta * (1 - decay * decay)
        return self.m0 * decay, torch.sqrt(var)


class FokkerPlanck(PDE):
    name = "fokker_planck"
    fields = ("q",)

    def __init__(
        self,
        d: int = 100,
        theta: float = 1.0,
        sigma: float = math.sqrt(2.0),
        m0: float = 1.0,
        v0: float = 0.25,
        horizon: float = 1.0,
        estimator: Mapping | None = None,
        val_points: int = 4096,
        n: int = 51,
        hard: bool = True,
    ) -> None:
        if int(d) < 1 or not (theta > 0 and sigma > 0 and v0 > 0):
            raise ValueError(f"fokker_planck: needs d >= 1, theta, sigma, v0 > 0, got {d}, {theta}, {sigma}, {v0}")
        self.axes = ("t", *default_axes(int(d)))
        super().__init__(OUCloud(self.axes, horizon, theta, sigma, m0, v0), {"t": n, self.axes[1]: n}, hard)
        self.d, self.estimator, self.validation_points = int(d), Estimator(**(estimator or {})), int(val_points)
        self.lap = self.estimator.need(laplacian("q", self.axes[1:]))

    def terms(self) -> list[Term]:
        pde = Term("pde", "interior", ("jac", self.lap), self.residual)
        if self.hard:
            return [pde]
        return [pde, Term("ic", "initial", ("q",), lambda d, x: d["q"] - self.exact(x)[..., 0])]

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        grad = d["jac"][..., 0, :]  # (..., 1 + d): q_t, then ∇_x q
        dq = grad[..., 1:]
        ou = self.domain
        drift = ou.theta * (self.d + (x[..., 1:] * dq).sum(-1))
        return grad[..., 0] - drift - ou.diffusion * (d[self.lap] + dq.square().sum(-1))

    def exact(self, x: Tensor) -> Tensor:
        mean, sd = self.domain.law(x[..., 0])
        var = sd * sd
        sq = (x[..., 1:] - mean[..., None]).square().sum(-1)
        return (-sq / (2 * var) - self.d / 2 * torch.log(2 * math.pi * var)).unsqueeze(-1)

    def ansatz(self, x, ops):
        """``b = q0(x)``, with ``Σ (x_i − m0)² = (Σ x² − t²) − 2 m0 (Σ x − t) + d m0²``; ``φ = t``."""
        t, m0, v0 = ops.col(x, 0), self.domain.m0, self.domain.v0
        sq = (ops.sum(x * x) - t * t) - (ops.sum(x) - t) * (2 * m0) + self.d * m0 * m0
        return sq * (-0.5 / v0) - self.d / 2 * math.log(2 * math.pi * v0), t

    def grid(self) -> tuple[dict[str, Tensor], Tensor]:
        """The plane of ``t`` and the first space axis through the points' mean (:meth:`DiffusionCloud.plane`)."""
        return self.domain.plane(self.grid_sizes["t"])
