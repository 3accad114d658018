"""A simply supported Kirchhoff plate: ``Δ²u = q`` on the unit square, ``u = 0`` and ``Δu = 0`` on its edges.

The load ``q`` is that of a sum of plate modes, ``u = Σ a_mn sin(mπx) sin(nπy)`` with ``Δ²`` of each mode
``π⁴ (m² + n²)²`` times it: ``(m, n, a) = (1, 1, 1), (2, 3, 0.2), (4, 1, -0.1)`` by default, every mode meeting both
edge conditions. Fourth order in two variables: the biharmonic ``u_xxxx + 2 u_xxyy + u_yyyy`` is one need
(:func:`~pinnkit.derivatives.estimates.biharmonic`), exact or estimated from Gaussian directions
(``estimator``). ``hard=true``: ``u = x(1-x) y(1-y) N``, so ``u = 0`` holds exactly and the moment condition
``Δu = 0`` stays a term (``moment``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ..derivatives.estimates import Estimator, biharmonic
from ..derivatives.names import laplacian
from ..domain import Box
from .base import PDE, Term

MODES = ((1, 1, 1.0), (2, 3, 0.2), (4, 1, -0.1))


class Plate(PDE):
    name = "plate"
    axes = ("x", "y")
    fields = ("u",)

    def __init__(
        self,
        modes: Sequence[Sequence[float]] = MODES,
        n: int = 101,
        hard: bool = False,
        estimator: Mapping | None = None,
    ) -> None:
        super().__init__(Box({"x": (0.0, 1.0), "y": (0.0, 1.0)}, time=None), {"x": n, "y": n}, hard)
        self.modes = tuple((int(m), int(k), float(a)) for m, k, a in modes)
        if not self.modes or any(m < 1 or k < 1 for m, k, _ in self.modes):
            raise ValueError(f"plate: modes are (m, n, amplitude) with m, n >= 1, got {modes}")
        self.estimator = Estimator(**(estimator or {}))
        self.bilap = self.estimator.need(biharmonic("u", self.axes))
        self.lap = laplacian("u", self.axes)

    def terms(self) -> list[Term]:
        pde = Term("pde", "interior", (self.bilap,), lambda d, x: d[self.bilap] - self.load(x))
        moment = Term("moment", "boundary", (self.lap,), lambda d, x: d[self.lap])
        if self.hard:
            return [pde, moment]
        return [pde, Term("bc", "boundary", ("u",), lambda d, x: d["u"]), moment]

    def _modes(self, x: Tensor, power: int) -> Tensor:
        """``Σ a (π²(m² + n²))^power sin(mπx) sin(nπy)`` (``...,``)."""
        xs, ys = self.col(x, "x"), self.col(x, "y")
        out = torch.zeros_like(xs)
        for m, k, a in self.modes:
            scale = a * (math.pi**2 * (m * m + k * k)) ** power
            out = out + scale * torch.sin(m * math.pi * xs) * torch.sin(k * math.pi * ys)
        return out

    def load(self, x: Tensor) -> Tensor:
        """``q = Δ²u (...,)``."""
        return self._modes(x, 2)

    def exact(self, x: Tensor) -> Tensor:
        return self._modes(x, 0).unsqueeze(-1)

    def ansatz(self, x, ops):
        xs, ys = ops.col(x, 0), ops.col(x, 1)
        return 0.0, xs * (1.0 - xs) * ys * (1.0 - ys)
