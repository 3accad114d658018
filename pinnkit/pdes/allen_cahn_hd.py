"""Allen–Cahn, a semilinear heat equation, in the unit ball of any dimension d, with a manufactured solution.

``u_t = Δu + u − u³ + f`` on ``[0, T] × B^d``, ``u(0, x) = v(x)``, ``u = 0`` on the sphere, with the exact solution
``u = e^(−t/2) v(x)``: ``v`` is the two-body function of ``poisson_hd`` (neighbouring coordinates interact), so
``f = u_t − Δu − u + u³`` is in closed form. The Laplacian is exact or estimated (``estimator``); the cubic makes
the residual nonlinear in ``u``, unlike Poisson's.

``hard=true`` imposes the boundary condition (``u = (1 − |x|²) N(t, x)``); the initial condition stays a term.
Validation scores held-out random points of ``[0, T] × B^d``; the plots show the plane of ``t`` and ``x0``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ..ball import TimeBall
from ..derivatives import Derivatives
from ..derivatives.estimates import Estimator
from ..derivatives.names import default_axes, laplacian
from .base import PDE, Term
from .poisson_hd import two_body


class AllenCahnHD(PDE):
    name = "allen_cahn_hd"
    fields = ("u",)

    def __init__(
        self,
        d: int = 100,
        horizon: float = 1.0,
        estimator: Mapping | None = None,
        coef_seed: int = 0,
        val_points: int = 4096,
        n: int = 51,
        hard: bool = False,
    ) -> None:
        if int(d) < 2:
            raise ValueError(f"{self.name}: d must be >= 2, got {d}")
        space = default_axes(int(d))
        self.axes = ("t", *space)
        super().__init__(TimeBall(space, horizon), {"t": n, space[0]: n}, hard)
        self.estimator, self.validation_points = Estimator(**(estimator or {})), int(val_points)
        gen = torch.Generator().manual_seed(int(coef_seed))
        self.register_buffer("coef", torch.randn(int(d) - 1, generator=gen, dtype=torch.float64), persistent=False)
        self.lap = self.estimator.need(laplacian("u", space))

    def terms(self) -> list[Term]:
        terms = [
            Term("pde", "interior", ("u", "u_t", self.lap), self.residual),
            Term("ic", "initial", ("u",), lambda d, x: d["u"] - two_body(x[..., 1:], self.coef.to(x))[0]),
        ]
        if not self.hard:
            terms.append(Term("bc", "boundary", ("u",), lambda d, x: d["u"]))
        return terms

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        u = d["u"]
        return d["u_t"] - d[self.lap] - u + u * u * u - self.source(x)

    def _parts(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(u, Δu)`` of the exact solution at ``x (..., 1 + d)``, each ``(...,)``."""
        v, lap_v = two_body(x[..., 1:], self.coef.to(x))
        decay = torch.exp(-0.5 * x[..., 0])
        return decay * v, decay * lap_v

    def exact(self, x: Tensor) -> Tensor:
        return self._parts(x)[0].unsqueeze(-1)

    def source(self, x: Tensor) -> Tensor:
        """``f = u_t − Δu − u + u³`` of the exact solution (``u_t = −u/2``), ``(...,)``."""
        u, lap = self._parts(x)
        return -1.5 * u - lap + u * u * u

    def ansatz(self, x, ops):
        """``b = 0``, ``φ = 1 − |x|²`` (the sum over all columns less ``t²``): zero on the sphere at every time."""
        t = ops.col(x, 0)
        return 0.0, 1 - (ops.sum(x * x) - t * t)

    def grid(self) -> tuple[dict[str, Tensor], Tensor]:
        """The plane of ``t`` and ``x0`` through the centre (:meth:`~pinnkit.ball.TimeBall.plane`)."""
        return self.domain.plane(self.grid_sizes["t"])
