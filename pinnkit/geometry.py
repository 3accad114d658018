"""Non-box 2-D domains given by a shape with an exact signed distance function (negative inside).

A :class:`ShapeDomain` is what a PDE's ``self.domain`` holds for such a shape: ``interior`` points come from the
shape's bounding box by rejection (``sdf < 0``), ``boundary`` points lie on the boundary, spread uniformly by arc
length; the evaluation grid is the bounding box's, and :meth:`ShapeDomain.contains` says which grid points count.
Shapes: :class:`Disk` and :class:`Polygon` (any simple polygon; :func:`l_shape` is the classic re-entrant corner).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .domain import Box
from .sampling import unit_cube


class Disk:
    """The disk ``|x - center| <= radius``."""

    def __init__(self, center: Sequence[float] = (0.0, 0.0), radius: float = 1.0) -> None:
        if radius <= 0:
            raise ValueError(f"a disk's radius must be > 0, got {radius}")
        self.center, self.radius = (float(center[0]), float(center[1])), float(radius)
        self.area = math.pi * radius**2

    @property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        return tuple((c - self.radius, c + self.radius) for c in self.center)  # type: ignore[return-value]

    def sdf(self, x: Tensor) -> Tensor:
        """``(...,)`` signed distance of ``x (..., 2)``."""
        return (x - x.new_tensor(self.center)).norm(dim=-1) - self.radius

    def boundary(self, u: Tensor) -> Tensor:
        """Points on the circle for ``u (n,)`` in ``[0, 1)`` (arc-length parameter): ``(n, 2)``."""
        a = 2 * math.pi * u
        return u.new_tensor(self.center) + self.radius * torch.stack([torch.cos(a), torch.sin(a)], -1)


class Polygon:
    """A simple polygon through ``vertices`` ``(k, 2)`` (either orientation)."""

    def __init__(self, vertices: Sequence[Sequence[float]]) -> None:
        v = torch.tensor([[float(a), float(b)] for a, b in vertices], dtype=torch.float64)
        if v.ndim != 2 or v.shape[0] < 3 or v.shape[1] != 2:
            raise ValueError(f"a polygon needs >= 3 vertices (x, y), got {vertices}")
        self.vertices = v
        nxt = v.roll(-1, 0)
        self.area = 0.5 * abs(float((v[:, 0] * nxt[:, 1] - nxt[:, 0] * v[:, 1]).sum()))
        if self.area == 0:
            raise ValueError(f"the polygon {vertices} has zero area")
        self.lengths = (nxt - v).norm(dim=-1)

    @property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        lo, hi = self.vertices.min(0).values.tolist(), self.vertices.max(0).values.tolist()
        return (lo[0], hi[0]), (lo[1], hi[1])

    def sdf(self, x: Tensor) -> Tensor:
        """``(...,)`` signed distance of ``x (..., 2)``: distance to the nearest edge, negative inside (even-odd
        crossing rule)."""
        v = self.vertices.to(x.device, x.dtype)
        dist2 = torch.full(x.shape[:-1], math.inf, dtype=x.dtype, device=x.device)
        inside = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
        for a, b in zip(v, v.roll(-1, 0), strict=True):
            e, w = b - a, x - a
            t = ((w * e).sum(-1) / (e * e).sum()).clamp(0, 1)
            dist2 = torch.minimum(dist2, (w - t.unsqueeze(-1) * e).square().sum(-1))
            crosses = (a[1] > x[..., 1]) != (b[1] > x[..., 1])
            x_at = a[0] + (x[..., 1] - a[1]) * e[0] / torch.where(e[1] == 0, e.new_tensor(1.0), e[1])
            inside ^= crosses & (x[..., 0] < x_at)
        return torch.where(inside, -1.0, 1.0) * dist2.sqrt()

    def boundary(self, u: Tensor) -> Tensor:
        """Points on the edges for ``u (n,)`` in ``[0, 1)`` (fraction of the perimeter): ``(n, 2)``."""
        lengths = self.lengths.to(u.device, u.dtype)
        cum = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)])
        s = u * cum[-1]
        edge = (torch.searchsorted(cum, s, right=True) - 1).clamp(0, len(lengths) - 1)
        v = self.vertices.to(u.device, u.dtype)
        frac = ((s - cum[edge]) / lengths[edge]).unsqueeze(-1)
        return v[edge] + frac * (v.roll(-1, 0)[edge] - v[edge])


def l_shape() -> Polygon:
    """``[-1, 1]² \\ (0, 1]²``: the L-shaped domain with its re-entrant corner at the origin."""
    return Polygon([(-1, -1), (1, -1), (1, 0), (0, 0), (0, 1), (-1, 1)])


def inside_points(box: Box, n: int, inside, gen: torch.Generator, dtype: torch.dtype, device: torch.device,
                  sampler: str) -> Tensor:  # fmt: skip
    """``n`` points ``(n, d)`` of ``box`` where ``inside(x) -> (m,) bool`` holds, by rejection from the box; draws
    ``n / box.fill`` with 20% to spare per round."""
    kept: list[Tensor] = []
    count = 0
    while count < n:
        x = box.uniform(math.ceil(1.2 * (n - count) / box.fill) + 16, gen, dtype, device, sampler)
        x = x[inside(x)]
        kept.append(x)
        count += x.shape[0]
    return torch.cat(kept)[:n]


class ShapeDomain(Box):
    """A 2-D steady domain bounded by ``shape`` (a :class:`Disk` or :class:`Polygon`), over ``axes``."""

    def __init__(self, shape: Disk | Polygon, axes: tuple[str, str] = ("x", "y")) -> None:
        super().__init__(dict(zip(axes, shape.bounds, strict=True)), time=None)
        self.shape = shape
        self.fill = shape.area / math.prod(hi - lo for lo, hi in zip(self.lower, self.upper, strict=True))

    def regions(self) -> tuple[str, ...]:
        return ("interior", "boundary")

    def contains(self, x: Tensor) -> Tensor:
        return self.shape.sdf(x) <= 1e-12

    def _region(
        self, region: str, n: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device, sampler: str
    ) -> Tensor:
        """``n`` points ``(n, 2)`` inside (rejection from the bounding box) or on the boundary."""
        if region == "boundary":
            return self.shape.boundary(unit_cube(sampler, n, 1, gen, dtype, device)[:, 0])
        if region != "interior":
            raise ValueError(f"unknown region {region!r} for a {type(self.shape).__name__}; valid: {self.regions()}")
        return inside_points(self, n, lambda x: self.shape.sdf(x) < 0, gen, dtype, device, sampler)


class GeometryDomain(Box):
    """A domain bounded by a :class:`~pinnkit.shapes.Shape` (2-D or 3-D, CSG included) over the spatial ``axes``,
    steady or, with ``time=(t0, t1)``, times a time interval (the time axis first).

    Regions: ``interior`` (rejection from the bounding box), ``boundary`` (all pieces, uniform by measure),
    ``boundary:<piece>`` (one piece of :attr:`pieces`, or every piece under a prefix: ``boundary:outer`` takes
    ``outer.x0_lower``, ...) and, with time, ``initial``. :meth:`normal` gives the outward unit normal at boundary
    points for residuals (flux, Neumann, Robin terms).
    """

    def __init__(self, shape, axes: Sequence[str], time: Sequence[float] | None = None, time_axis: str = "t") -> None:
        if len(axes) != shape.dim:
            raise ValueError(f"a {shape.dim}-D shape needs {shape.dim} axis names, got {list(axes)}")
        bounds = {time_axis: tuple(time)} if time is not None else {}
        bounds.update(zip(axes, shape.bounds, strict=True))
        super().__init__(bounds, time=time_axis if time is not None else None)
        self.shape, self.pieces = shape, tuple(shape.pieces)
        self.space = [self.axes.index(a) for a in axes]
        probe = self.uniform(8192, torch.Generator().manual_seed(0), torch.float64, torch.device("cpu"))
        self.fill = max(float((shape.sdf(probe[:, self.space]) < 0).double().mean()), 1e-3)

    def regions(self) -> tuple[str, ...]:
        base = ("interior", "boundary", *(f"boundary:{p}" for p in self.pieces))
        return ("initial", *base) if self.time else base

    def contains(self, x: Tensor) -> Tensor:
        return self.shape.sdf(x[..., self.space]) <= 1e-12

    def normal(self, x: Tensor) -> Tensor:
        """``(..., d)``: the outward unit normal at boundary points ``x (..., d)``, 0 along time."""
        out = torch.zeros_like(x)
        out[..., self.space] = self.shape.normal(x[..., self.space])
        return out

    def piece_index(self, region: str) -> list[int]:
        """The pieces a ``boundary:<name>`` region takes (module doc); a clear error naming the pieces if none."""
        name = region.split(":", 1)[1]
        picked = [i for i, p in enumerate(self.pieces) if p == name or p.startswith(name + ".")]
        if not picked:
            raise ValueError(f"unknown boundary piece {name!r}; the pieces are {list(self.pieces)}")
        return picked

    def _region(
        self, region: str, n: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device, sampler: str
    ) -> Tensor:
        if region not in ("interior", "initial", "boundary") and not region.startswith("boundary:"):
            raise ValueError(f"unknown region {region!r}; valid: {self.regions()}")
        if region == "initial" and self.time is None:
            raise ValueError(f"region 'initial' needs a time interval; valid: {self.regions()}")
        if region.startswith("boundary"):
            want = self.piece_index(region) if ":" in region else None
            kept, count = [], 0
            while count < n:
                draw = n - count if want is None else 2 * (n - count) + 16
                x, _, piece = self.shape.boundary(draw, gen, dtype, device)
                if want is not None:
                    x = x[torch.isin(piece, torch.tensor(want, device=piece.device))]
                kept.append(x)
                count += x.shape[0]
            space = torch.cat(kept)[:n].to(device)
            full = self.uniform(n, gen, dtype, device, sampler)
            full[:, self.space] = space
            return full
        x = inside_points(self, n, lambda x: self.shape.sdf(x[:, self.space]) < 0, gen, dtype, device, sampler)
        if region == "initial":
            x[:, self.axes.index(self.time)] = self.lower[self.axes.index(self.time)]
        return x
