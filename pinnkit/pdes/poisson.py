"""Poisson equation -Δu = f with Dirichlet data, on the unit square, the L-shaped domain or the unit disk.

Manufactured solution ``u = sin(πx) sin(πy) w(x, y) + (x² + y²)/4`` with ``w = 1`` on the square ``[0, 1]²`` and
on the L-shape ``[-1, 1]² \\ (0, 1]²`` (``sin(πx) sin(πy)`` vanishes on all their edges) and ``w = 1 - x² - y²`` on
the unit disk; on every boundary ``u = (x² + y²)/4``. The L-shape and the disk are
:class:`~pinnkit.geometry.ShapeDomain` s given by signed distance functions (points by rejection, boundary by arc
length, the grid masked outside). With ``w = 1`` the solution holds on any domain, so a point-cloud geometry
(``geometry=<file>.npz``, :mod:`pinnkit.cloud`; soft boundary term only) keeps the reference.

``hard=True`` imposes the boundary data exactly: ``u = (x² + y²)/4 + φ N`` with ``φ`` zero on the boundary and
positive inside: ``16 x(1-x) y(1-y)`` (square), ``(1 - x²)(1 - y²)(r - x - y)`` (L-shape: ``r - x - y`` is the
R-function union of the half-planes ``x < 0``, ``y < 0``), ``(1 - r²)/2`` (disk: ``-sdf·(1 + r)/2``, smooth).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..cloud import PointCloudDomain
from ..derivatives import Derivatives
from ..derivatives.names import laplacian
from ..domain import Box
from ..geometry import Disk, ShapeDomain, l_shape
from .base import PDE, Term

GEOMETRIES = ("square", "lshape", "disk")


class Poisson(PDE):
    name = "poisson"
    axes = ("x", "y")
    fields = ("u",)

    def __init__(self, n: int = 101, geometry: str = "square", hard: bool = False) -> None:
        self.geometry = geometry
        if hard and str(geometry).endswith(".npz"):
            raise ValueError(f"{self.name}: hard=true needs a geometry with a known boundary function, one of "
                             f"{GEOMETRIES}; with a point cloud ({geometry}) set hard=false")  # fmt: skip
        super().__init__(plane_domain(geometry, self.name), {"x": n, "y": n}, hard)
        self.lap = laplacian("u", self.axes)

    def terms(self) -> list[Term]:
        pde = Term("pde", "interior", (self.lap,), self.residual)
        if self.hard:
            return [pde]
        return [pde, Term("bc", "boundary", ("u",), lambda d, x: d["u"] - self.boundary_value(x))]

    def boundary_value(self, x: Tensor) -> Tensor:
        """The Dirichlet data ``(...,)``: the manufactured solution."""
        return self.exact(x)[..., 0]

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        return -d[self.lap] - self.source(x)

    def source(self, x: Tensor) -> Tensor:
        """``f = -Δu (...,)``: ``Δ(s w) = w Δs + 2 ∇s·∇w + s Δw`` with ``s = sin(πx) sin(πy)``, ``Δs = -2π² s``."""
        xs, ys = self.col(x, "x"), self.col(x, "y")
        pi = math.pi
        s = torch.sin(pi * xs) * torch.sin(pi * ys)
        lap = -2 * pi**2 * s + 1.0  # Δ[(x² + y²)/4] = 1
        if self.geometry == "disk":
            w = 1 - xs**2 - ys**2
            grad_dot = pi * (
                torch.cos(pi * xs) * torch.sin(pi * ys) * xs + torch.sin(pi * xs) * torch.cos(pi * ys) * ys
            )
            lap = -2 * pi**2 * s * w - 4 * grad_dot - 4 * s + 1.0
        return -lap

    def exact(self, x: Tensor) -> Tensor:
        xs, ys = self.col(x, "x"), self.col(x, "y")
        s = torch.sin(math.pi * xs) * torch.sin(math.pi * ys)
        if self.geometry == "disk":
            s = s * (1 - xs**2 - ys**2)
        return (s + (xs**2 + ys**2) / 4).unsqueeze(-1)

    def ansatz(self, x, ops):
        xs, ys = ops.col(x, 0), ops.col(x, 1)
        return (xs * xs + ys * ys) * 0.25, vanishing(self.geometry, x, ops)


def plane_domain(geometry: str, pde: str) -> Box:
    """The domain a ``geometry`` name stands for: ``square`` ``[0, 1]²``, ``lshape`` ``[-1, 1]² \\ (0, 1]²``,
    ``disk`` the unit disk, or a ``.npz`` point-cloud file (:class:`~pinnkit.cloud.PointCloudDomain`)."""
    if str(geometry).endswith(".npz"):
        return PointCloudDomain(geometry, ("x", "y"))
    domains = {
        "square": lambda: Box({"x": (0.0, 1.0), "y": (0.0, 1.0)}, time=None),
        "lshape": lambda: ShapeDomain(l_shape()),
        "disk": lambda: ShapeDomain(Disk()),
    }
    if geometry not in domains:
        raise ValueError(f"{pde}: unknown geometry {geometry!r}; valid: {GEOMETRIES} or a point cloud .npz file")
    return domains[geometry]()


def vanishing(geometry: str, x, ops):
    """``φ (..., 1)``: zero on the boundary of :func:`plane_domain`'s ``geometry``, positive inside (module doc),
    on tensors or jets (``ops``, :mod:`pinnkit.nets.constrained`)."""
    xs, ys = ops.col(x, 0), ops.col(x, 1)
    if geometry == "square":
        return 16.0 * (xs * (1.0 - xs)) * (ys * (1.0 - ys))
    r2 = xs * xs + ys * ys
    if geometry == "lshape":
        return (1.0 - xs * xs) * (1.0 - ys * ys) * (ops.sqrt(r2) - xs - ys)
    return (1.0 - r2) * 0.5
