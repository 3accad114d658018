"""The ball and its sphere in any dimension: the domain of the high-dimensional PDEs.

Uniform points in ``B^d = {|x - c| <= r}`` are ``c + r U^(1/d) g/|g|`` with ``g`` standard Gaussian and ``U``
uniform (direction and radius independent; the radius law ``P(|x| <= s) = s^d``), on its sphere ``c + r g/|g|``.
In high ``d`` almost all of the ball's volume lies near its sphere (``E|x| = d/(d+1) r``): the interior points
say so too.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .domain import Box


def sphere_points(n: int, d: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(n, d)`` points uniform on the unit sphere ``S^(d-1)``."""
    g = torch.randn(n, d, generator=gen, dtype=dtype, device=device)
    return g / g.norm(dim=-1, keepdim=True)


def ball_points(n: int, d: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(n, d)`` points uniform in the unit ball ``B^d``."""
    s = sphere_points(n, d, gen, dtype, device)
    u = torch.rand(n, 1, generator=gen, dtype=dtype, device=device)
    return s * u.pow(1.0 / d)


class Ball(Box):
    """The ball of ``radius`` around ``centre`` over ``axes`` (no time axis): regions ``interior`` and ``boundary``
    (the sphere). Its bounding box is the :class:`~pinnkit.domain.Box` the networks normalize inputs by."""

    def __init__(self, axes: Sequence[str], radius: float = 1.0, centre: Sequence[float] | None = None) -> None:
        centre = [0.0] * len(axes) if centre is None else [float(c) for c in centre]
        if len(centre) != len(axes) or not radius > 0:
            raise ValueError(f"a ball needs radius > 0 and one centre coordinate per axis, got {radius}, {centre}")
        super().__init__({a: (c - radius, c + radius) for a, c in zip(axes, centre, strict=True)}, time=None)
        self.radius, self.centre = float(radius), tuple(centre)

    def regions(self) -> tuple[str, ...]:
        return ("interior", "boundary")

    def contains(self, x: Tensor) -> Tensor:
        c = torch.tensor(self.centre, dtype=x.dtype, device=x.device)
        return (x - c).norm(dim=-1) <= self.radius * (1 + 1e-12)

    def _region(
        self, region: str, n: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device, sampler: str
    ) -> Tensor:
        if sampler != "uniform":
            raise ValueError(f"a ball draws uniform points only (data.sampler=uniform), not {sampler!r}")
        if region not in self.regions():
            raise ValueError(f"unknown region {region!r} of a ball; valid: {list(self.regions())}")
        draw = ball_points if region == "interior" else sphere_points
        c = torch.tensor(self.centre, dtype=dtype, device=device)
        return c + self.radius * draw(n, self.dim, gen, dtype, device)

    def slice_grid(self, n: int) -> tuple[dict[str, Tensor], Tensor]:
        """The plane of the first two axes through the centre, ``n × n`` points of the bounding square (float64):
        1-D coordinates of those axes and the mesh ``(n, n, d)``."""
        a, b = self.axes[:2]
        line = [torch.linspace(self.lower[i], self.upper[i], n, dtype=torch.float64) for i in (0, 1)]
        coords = {a: line[0], b: line[1]}
        mesh = torch.tensor(self.centre, dtype=torch.float64).repeat(n, n, 1)
        mesh[..., 0], mesh[..., 1] = torch.meshgrid(coords[a], coords[b], indexing="ij")
        return coords, mesh
