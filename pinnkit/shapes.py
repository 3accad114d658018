"""Shapes in 2-D and 3-D given by signed distance functions (negative inside), with outward unit normals, named
boundary pieces and constructive geometry.

Primitives (any dimension unless noted): :class:`Rectangle` (an axis-aligned box; its faces are named
``<axis>_lower`` / ``<axis>_upper`` by axis index ``x0``, ``x1``, ... unless ``axes`` names them), :class:`Ball`
(disk, sphere), :class:`Cylinder` (3-D, along one axis, capped), and 2-D polygons through
:class:`PolygonShape`. Constructive geometry on any of them (:mod:`pinnkit.csg`): ``Union``, ``Intersection``,
``Difference``, also written ``a | b``, ``a & b``, ``a - b``.

Every shape answers:

- ``sdf(x (..., d)) -> (...,)``: exact for the primitives; ``min``/``max`` compositions for CSG, exact outside a
  union and inside an intersection and conservative elsewhere (``|sdf|`` never exceeds the true distance), so
  ``sdf < 0`` is inside and ``sdf = 0`` the boundary either way;
- ``boundary(n, gen) -> (points (n, d), normals (n, d), piece (n,) int)``: points spread uniformly over the
  boundary by measure, with the outward unit normal and the index of their piece in :attr:`pieces`;
- ``normal(x (..., d)) -> (..., d)``: the outward unit normal at boundary points: exact for the primitives, the
  active part's for CSG (the part whose SDF the composition takes), without autograd, so it compiles into a loss;
  :meth:`Shape.normal` (the normalized SDF gradient) is the fallback for a shape of your own.

A piece is named by its primitive's ``name`` (plus the face for a rectangle): in ``Rectangle(..., name="outer") -
Ball(..., name="hole")`` the pieces are ``outer.x0_lower``, ..., ``hole`` (``outer.x_lower``, ... with
``axes=("x", "y")``); the points of a piece keep their
primitive's normal, flipped on a subtracted part (it points out of the new domain, into the hole).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from .sampling import onto_faces


class Shape:
    """The interface (module doc); subclasses set ``dim``, ``bounds``, ``pieces`` and the three methods."""

    dim: int
    bounds: tuple[tuple[float, float], ...]
    pieces: tuple[str, ...]

    def sdf(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def boundary(self, n: int, gen: torch.Generator, dtype=torch.float64, device="cpu") -> tuple[Tensor, ...]:
        raise NotImplementedError

    def boundary_measure(self) -> float:
        """Length (2-D) or area (3-D) of the boundary; an estimate for CSG."""
        raise NotImplementedError

    def normal(self, x: Tensor) -> Tensor:
        with torch.enable_grad():
            z = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.sdf(z).sum(), z)
        return g / g.norm(dim=-1, keepdim=True).clamp_min(1e-300)

    def __or__(self, other: Shape) -> Shape:
        from .csg import Union

        return Union(self, other)

    def __and__(self, other: Shape) -> Shape:
        from .csg import Intersection

        return Intersection(self, other)

    def __sub__(self, other: Shape) -> Shape:
        from .csg import Difference

        return Difference(self, other)


def _uniform(n: int, d: int, gen: torch.Generator, dtype) -> Tensor:
    """``(n, d)`` uniform in ``[0, 1)`` on the generator's device."""
    return torch.rand(n, d, generator=gen, dtype=dtype, device=gen.device)


class Rectangle(Shape):
    """The box ``lower <= x <= upper`` in ``d = len(lower)`` dimensions; faces ``<name>.<axis>_lower`` /
    ``<name>.<axis>_upper``, or the names ``faces`` gives them (``{"y_upper": "lid", "y_lower": "wall.bottom"}``:
    faces that share a prefix are one region, ``boundary:wall``)."""

    def __init__(self, lower: Sequence[float], upper: Sequence[float], name: str = "box",
                 axes: Sequence[str] | None = None, faces: Mapping[str, str] | None = None) -> None:  # fmt: skip
        lo, hi = [float(v) for v in lower], [float(v) for v in upper]
        if len(lo) != len(hi) or len(lo) < 2 or any(h <= low for low, h in zip(lo, hi, strict=True)):
            raise ValueError(f"a rectangle needs lower < upper in >= 2 dimensions, got {lower}, {upper}")
        axes = list(axes) if axes is not None else [f"x{i}" for i in range(len(lo))]
        if len(axes) != len(lo):
            raise ValueError(f"a rectangle in {len(lo)} dimensions needs {len(lo)} axis names, got {axes}")
        self.lower, self.upper, self.dim = lo, hi, len(lo)
        self.bounds = tuple(zip(lo, hi, strict=True))
        own = [f"{a}_{side}" for a in axes for side in ("lower", "upper")]
        unknown = sorted(set(faces or {}) - set(own))
        if unknown:
            raise ValueError(f"a rectangle's faces are {own}; faces= names {unknown}")
        self.pieces = tuple((faces or {}).get(f, f"{name}.{f}") for f in own)
        widths = [h - low for low, h in zip(lo, hi, strict=True)]
        self.face_measure = [math.prod(w for j, w in enumerate(widths) if j != i) for i in range(self.dim)]

    def sdf(self, x: Tensor) -> Tensor:
        lo, hi = x.new_tensor(self.lower), x.new_tensor(self.upper)
        q = torch.maximum(lo - x, x - hi)  # per axis: > 0 outside that slab
        outside = q.clamp_min(0).norm(dim=-1)
        return outside + q.max(-1).values.clamp_max(0)

    def boundary_measure(self) -> float:
        return 2 * sum(self.face_measure)

    def boundary(self, n, gen, dtype=torch.float64, device="cpu"):
        on = gen.device
        lo = torch.tensor(self.lower, dtype=dtype, device=on)
        x = lo + (torch.tensor(self.upper, dtype=dtype, device=on) - lo) * _uniform(n, self.dim, gen, dtype)
        face = onto_faces(x, self.lower, self.upper, range(self.dim), gen)
        normals = torch.zeros(n, self.dim, dtype=dtype, device=on)
        normals.scatter_(1, (face // 2).unsqueeze(1), (2.0 * (face % 2) - 1.0).to(dtype).unsqueeze(1))
        return x.to(device), normals.to(device), face.to(device)

    def normal(self, x: Tensor) -> Tensor:
        """The normal of the nearest face (points on an edge take the first axis's face)."""
        lo, hi = x.new_tensor(self.lower), x.new_tensor(self.upper)
        gaps = torch.stack([(x - lo).abs(), (hi - x).abs()], -1).flatten(-2)  # (..., 2d): axis-major, lower first
        face = gaps.argmin(-1)
        out = torch.zeros_like(x)
        out.scatter_(-1, (face // 2).unsqueeze(-1), (2.0 * (face % 2) - 1.0).to(x.dtype).unsqueeze(-1))
        return out


class Ball(Shape):
    """``|x - center| <= radius`` in ``d = len(center)`` dimensions (disk, sphere); one piece, ``name``."""

    def __init__(self, center: Sequence[float], radius: float, name: str = "ball") -> None:
        if radius <= 0 or len(center) < 2:
            raise ValueError(f"a ball needs radius > 0 and >= 2 dimensions, got center {center}, radius {radius}")
        self.center, self.radius, self.dim = [float(c) for c in center], float(radius), len(center)
        self.bounds = tuple((c - self.radius, c + self.radius) for c in self.center)
        self.pieces = (name,)

    def sdf(self, x: Tensor) -> Tensor:
        return (x - x.new_tensor(self.center)).norm(dim=-1) - self.radius

    def boundary_measure(self) -> float:
        d = self.dim
        return 2 * math.pi ** (d / 2) / math.gamma(d / 2) * self.radius ** (d - 1)

    def boundary(self, n, gen, dtype=torch.float64, device="cpu"):
        g = torch.randn(n, self.dim, generator=gen, dtype=dtype, device=gen.device)
        normals = g / g.norm(dim=-1, keepdim=True)
        x = torch.tensor(self.center, dtype=dtype, device=gen.device) + self.radius * normals
        return x.to(device), normals.to(device), torch.zeros(n, dtype=torch.long, device=device)

    def normal(self, x: Tensor) -> Tensor:
        v = x - x.new_tensor(self.center)
        return v / v.norm(dim=-1, keepdim=True)


class Cylinder(Shape):
    """A capped circular cylinder in 3-D: ``|x_⊥ - center_⊥| <= radius`` and ``lower <= x_axis <= upper``.
    Pieces ``<name>.side``, ``<name>.bottom``, ``<name>.top``."""

    def __init__(self, center: Sequence[float], radius: float, lower: float, upper: float, axis: int = 2,
                 name: str = "cylinder") -> None:  # fmt: skip
        if len(center) != 2 or radius <= 0 or upper <= lower or axis not in (0, 1, 2):
            raise ValueError("a cylinder needs a 2-D center (across the axis), radius > 0, lower < upper and "
                             f"axis 0, 1 or 2; got {center}, {radius}, {lower}, {upper}, {axis}")  # fmt: skip
        self.center, self.radius, self.lower, self.upper, self.axis = [float(c) for c in center], float(radius), \
            float(lower), float(upper), axis  # fmt: skip
        self.dim, self.across = 3, [i for i in range(3) if i != axis]
        b = [(0.0, 0.0)] * 3
        for k, i in enumerate(self.across):
            b[i] = (self.center[k] - radius, self.center[k] + radius)
        b[axis] = (self.lower, self.upper)
        self.bounds = tuple(b)
        self.pieces = (f"{name}.side", f"{name}.bottom", f"{name}.top")

    def sdf(self, x: Tensor) -> Tensor:
        radial = (x[..., self.across] - x.new_tensor(self.center)).norm(dim=-1) - self.radius
        h = x[..., self.axis]
        axial = torch.maximum(self.lower - h, h - self.upper)
        q = torch.stack([radial, axial], -1)
        return q.clamp_min(0).norm(dim=-1) + q.max(-1).values.clamp_max(0)

    def boundary_measure(self) -> float:
        return 2 * math.pi * self.radius * (self.upper - self.lower) + 2 * math.pi * self.radius**2

    def normal(self, x: Tensor) -> Tensor:
        """The side's radial normal or a cap's axial one, whichever part of the boundary is nearer."""
        rel = x[..., self.across] - x.new_tensor(self.center)
        r = rel.norm(dim=-1, keepdim=True)
        h = x[..., self.axis]
        below, above = self.lower - h, h - self.upper
        side = (r[..., 0] - self.radius >= torch.maximum(below, above)).unsqueeze(-1)
        out = torch.zeros_like(x)
        out[..., self.across] = torch.where(side, rel / r.clamp_min(1e-300), torch.zeros_like(rel))
        cap = torch.where(above >= below, 1.0, -1.0).to(x.dtype).unsqueeze(-1)
        out[..., self.axis] = torch.where(side, torch.zeros_like(cap), cap)[..., 0]
        return out

    def boundary(self, n, gen, dtype=torch.float64, device="cpu"):
        side, cap = 2 * math.pi * self.radius * (self.upper - self.lower), math.pi * self.radius**2
        on = gen.device
        piece = torch.multinomial(torch.tensor([side, cap, cap], dtype=torch.float64, device=on), n, replacement=True,
                                  generator=gen)  # fmt: skip
        u = _uniform(n, 2, gen, dtype)
        angle = 2 * math.pi * u[:, 0]
        r = torch.where(piece == 0, torch.full_like(u[:, 1], self.radius), self.radius * u[:, 1].sqrt())
        cap = torch.where(piece == 1, self.lower, self.upper).to(dtype)
        h = torch.where(piece == 0, self.lower + (self.upper - self.lower) * u[:, 1], cap)
        x = torch.zeros(n, 3, dtype=dtype, device=on)
        normals = torch.zeros(n, 3, dtype=dtype, device=on)
        for k, (i, trig) in enumerate(zip(self.across, (torch.cos, torch.sin), strict=True)):
            x[:, i] = self.center[k] + r * trig(angle)
            normals[:, i] = torch.where(piece == 0, trig(angle), torch.zeros_like(r))
        x[:, self.axis] = h
        normals[:, self.axis] = torch.where(piece == 1, -1.0, torch.where(piece == 2, 1.0, 0.0)).to(dtype)
        return x.to(device), normals.to(device), piece.to(device)


class PolygonShape(Shape):
    """A simple polygon (:class:`~pinnkit.geometry.Polygon`) as a shape: one piece, ``name``; the normal of each
    edge points away from the interior."""

    def __init__(self, vertices: Sequence[Sequence[float]], name: str = "polygon") -> None:
        from .geometry import Polygon

        self.polygon, self.dim, self.pieces = Polygon(vertices), 2, (name,)
        self.bounds = self.polygon.bounds
        v = self.polygon.vertices
        e = v.roll(-1, 0) - v
        ccw = float((v[:, 0] * v.roll(-1, 0)[:, 1] - v.roll(-1, 0)[:, 0] * v[:, 1]).sum()) > 0
        self.edge_normals = torch.stack([e[:, 1], -e[:, 0]], -1) / e.norm(dim=-1, keepdim=True) * (1 if ccw else -1)

    def sdf(self, x: Tensor) -> Tensor:
        return self.polygon.sdf(x)

    def boundary_measure(self) -> float:
        return float(self.polygon.lengths.sum())

    def boundary(self, n, gen, dtype=torch.float64, device="cpu"):
        u = torch.rand(n, generator=gen, dtype=dtype, device=gen.device)
        x = self.polygon.boundary(u)
        return x.to(device), self.normal(x).to(device), torch.zeros(n, dtype=torch.long, device=device)

    def normal(self, x: Tensor) -> Tensor:
        """The normal of the nearest edge."""
        v = self.polygon.vertices.to(x.device, x.dtype)
        e = v.roll(-1, 0) - v
        w = x.unsqueeze(-2) - v  # (..., k, 2)
        t = ((w * e).sum(-1) / (e * e).sum(-1)).clamp(0, 1)
        dist = (w - t.unsqueeze(-1) * e).norm(dim=-1)
        return self.edge_normals.to(x.device, x.dtype)[dist.argmin(-1)]
