"""Hamilton–Jacobi–Bellman equation of a linear–quadratic–Gaussian control problem in d dimensions.

``u_t + Δu − λ|∇_x u|² = 0`` on ``[0, T] × R^d``, ``u(T, x) = g(x) = ln((1 + |x|²)/2)``: the value function of
steering ``dX = 2m dt + √2 dW`` at running cost ``|m|²`` (λ = 1) to the terminal cost ``g``. Its value by the
Cole–Hopf transform is an expectation (:mod:`pinnkit.references.cole_hopf`): the reference at the validation points
is a Monte Carlo estimate with its standard error, and ``u(0, 0)`` (4.5901 for d = 100, λ = 1, T = 1) is scored
on its own as ``val/u0_rel`` from at least a million samples.

The terminal condition holds by construction (``u = b + (T − t) N(t, x)`` with ``b = g`` at ``t = T``, :meth:`ansatz`;
there is no soft form). Points are
drawn where the optimal paths from the origin run, ``x ~ N(0, 2t I)`` (:class:`~pinnkit.ball.DiffusionCloud`).
The Laplacian is exact or estimated (``estimator``, as for ``poisson_hd``); the gradient is exact.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ..ball import DiffusionCloud
from ..derivatives import Derivatives
from ..derivatives.estimates import Estimator
from ..derivatives.names import default_axes, laplacian
from ..references.cole_hopf import cole_hopf, value_at_origin
from .base import PDE, Table, Term


class HJB(PDE):
    name = "hjb"
    fields = ("u",)
    closed_form = False  # a Monte Carlo reference

    def __init__(
        self,
        d: int = 100,
        lam: float = 1.0,
        horizon: float = 1.0,
        estimator: Mapping | None = None,
        val_points: int = 1024,
        ref_samples: int = 65536,
        origin_samples: int = 10_000_000,
        ref_seed: int = 0,
        n: int = 51,
        hard: bool = True,
        guess: bool = False,
    ) -> None:
        if int(d) < 1 or not lam > 0 or int(origin_samples) < 1_000_000:
            raise ValueError(f"hjb: needs d >= 1, lam > 0 and origin_samples >= 1e6, got {d}, {lam}, {origin_samples}")
        if not hard:
            raise ValueError("hjb: the terminal condition is imposed exactly (u = g + (T - t) N): set pde.hard=true")
        self.axes = ("t", *default_axes(int(d)))
        super().__init__(DiffusionCloud(self.axes, horizon), {"t": n, self.axes[1]: n}, hard)
        self.lam, self.horizon, self.estimator = float(lam), float(horizon), Estimator(**(estimator or {}))
        self.validation_points, self.ref_samples, self.ref_seed = int(val_points), int(ref_samples), int(ref_seed)
        self.origin_samples, self.guess = int(origin_samples), bool(guess)
        self.lap = self.estimator.need(laplacian("u", self.axes[1:]))
        self._origin: tuple[float, float] | None = None

    def terms(self) -> list[Term]:
        return [Term("pde", "interior", ("jac", self.lap), self.residual)]

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        grad = d["jac"][..., 0, :]  # (..., 1 + d): u_t, then ∇_x u
        return grad[..., 0] + d[self.lap] - self.lam * grad[..., 1:].square().sum(-1)

    def ansatz(self, x, ops):
        """``φ = T − t`` and ``b = g(x) = ln((1 + |x|²)/2)`` (``|x|²``: the sum over all columns less ``t²``) or,
        with ``guess``, ``b = ln((1 + |x|² + 2(T − t)d)/2)``: ``g`` of the mean ``E|Z|²`` (Jensen's estimate of the
        Cole–Hopf value; also ``g`` at ``t = T``), so the network learns the correction to it."""
        t = ops.col(x, 0)
        sq = ops.sum(x * x) - t * t
        if self.guess:
            sq = sq + (self.horizon - t) * (2.0 * (len(self.axes) - 1))
        return ops.log(sq * 0.5 + 0.5), self.horizon - t

    def exact(self, x: Tensor) -> Tensor:
        """The Monte Carlo value (``ref_samples`` shared samples; standard error ~1e-4 at d = 100)."""
        flat = x.reshape(-1, x.shape[-1])
        u, _ = cole_hopf(flat, self.lam, self.horizon, self.ref_samples, self.ref_seed)
        return u.to(x).reshape(*x.shape[:-1], 1)

    def origin(self) -> tuple[float, float]:
        """``(u(0, 0), its standard error)`` from ``origin_samples`` Monte Carlo samples (computed once)."""
        if self._origin is None:
            self._origin = value_at_origin(len(self.axes) - 1, self.lam, self.horizon, self.origin_samples)
        return self._origin

    def tables(self) -> dict[str, Table]:
        zero = torch.zeros(1, len(self.axes), dtype=torch.float64)
        return {"u0": Table(zero, "u", torch.tensor([self.origin()[0]], dtype=torch.float64))}

    def grid(self) -> tuple[dict[str, Tensor], Tensor]:
        """The plane of ``t`` and the first space axis through the points' mean (:meth:`DiffusionCloud.plane`)."""
        return self.domain.plane(self.grid_sizes["t"])
