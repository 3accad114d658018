"""The ball and its sphere in any dimension: the domain of the high-dimensional PDEs.

Uniform points in ``B^d = {|x - c| <= r}`` are ``c + r U^(1/d) g/|g|`` with ``g`` standard Gaussian and ``U``
uniform (direction and radius independent; the radius law ``P(|x| <= s) = s^d``), on its sphere ``c + r g/|g|``.
In high ``d`` almost all of the ball's volume lies near its sphere (``E|x| = d/(d+1) r``): the interior points
say so too.

:class:`TimeBall` is ``[0, T]`` × the ball, for evolution equations in it. :class:`DiffusionCloud` is the other
high-dimensional domain: ``(t, x)`` with ``x`` where a diffusion started at the
origin is at time ``t`` (``x ~ N(0, 2t I)``), for problems on all of ``R^d`` whose solution is wanted along it.
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


class TimeBall(Box):
    """``[0, T]`` × the ball of ``radius`` around the origin: axes ``("t", *space)``; regions ``interior``,
    ``initial`` (``t = 0``) and ``boundary`` (the sphere, at uniform times)."""

    def __init__(self, space: Sequence[str], horizon: float = 1.0, radius: float = 1.0) -> None:
        if not horizon > 0:
            raise ValueError(f"a time interval [0, T] needs T > 0, got {horizon}")
        self.ball = Ball(space, radius)
        super().__init__({"t": (0.0, float(horizon)), **{a: (-radius, radius) for a in space}}, time="t")
        self.horizon, self.radius = float(horizon), float(radius)

    def regions(self) -> tuple[str, ...]:
        return ("interior", "initial", "boundary")

    def contains(self, x: Tensor) -> Tensor:
        return self.ball.contains(x[..., 1:])

    def _region(
        self, region: str, n: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device, sampler: str
    ) -> Tensor:
        if region not in self.regions():
            raise ValueError(f"unknown region {region!r} of [0, T] x ball; valid: {list(self.regions())}")
        space = self.ball._region("boundary" if region == "boundary" else "interior", n, gen, dtype, device, sampler)
        t = self.horizon * torch.rand(n, 1, generator=gen, dtype=dtype, device=device)
        return torch.cat([t * 0 if region == "initial" else t, space], -1)

    def plane(self, n: int) -> tuple[dict[str, Tensor], Tensor]:
        """The plane of ``t`` and the first space axis through the centre, ``n × n`` (float64)."""
        return time_plane(self, n)


class DiffusionCloud(Box):
    """``(t, x)``, ``t`` uniform in ``[0, T]`` and ``x ~ N(μ(t), s(t)² I_d)`` (:meth:`law`): by default
    ``N(0, 2t spread² I)``, the law of ``√2 W_t`` (spread 1), where the Feynman–Kac paths of ``u_t + Δu + ... = 0``
    from the origin run. Regions ``interior`` and, with ``initial``, ``initial`` (``t = 0``). The bounding box
    (what networks normalize inputs by) covers ``t ∈ [0, T]`` and 3 standard deviations around the mean."""

    def __init__(self, axes: Sequence[str], horizon: float = 1.0, spread: float = 1.0, initial: bool = False) -> None:
        if not (horizon > 0 and spread > 0):
            raise ValueError(f"a diffusion cloud needs horizon > 0 and spread > 0, got {horizon}, {spread}")
        self.horizon, self.spread, self.initial = float(horizon), float(spread), bool(initial)
        mean, sd = self.law(torch.linspace(0.0, horizon, 101, dtype=torch.float64))
        lo, hi = float((mean - 3 * sd).min()), float((mean + 3 * sd).max())
        super().__init__({axes[0]: (0.0, horizon), **{a: (lo, hi) for a in axes[1:]}}, time=axes[0])

    def law(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """``(mean, standard deviation)`` of each coordinate of ``x`` at times ``t`` (shapes of ``t``)."""
        return torch.zeros_like(t), self.spread * torch.sqrt(2 * t)

    def regions(self) -> tuple[str, ...]:
        return ("interior", "initial") if self.initial else ("interior",)

    def contains(self, x: Tensor) -> Tensor:
        return torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)

    def _region(
        self, region: str, n: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device, sampler: str
    ) -> Tensor:
        if sampler != "uniform":
            raise ValueError(f"a diffusion cloud draws random points only (data.sampler=uniform), not {sampler!r}")
        if region not in self.regions():
            raise ValueError(f"unknown region {region!r} of a diffusion cloud; valid: {list(self.regions())}")
        t = self.horizon * torch.rand(n, 1, generator=gen, dtype=dtype, device=device)
        if region == "initial":  # t = 0, x from the law at 0
            t = torch.zeros_like(t)
        g = torch.randn(n, self.dim - 1, generator=gen, dtype=dtype, device=device)
        mean, sd = self.law(t)
        return torch.cat([t, mean + sd * g], -1)

    def plane(self, n: int) -> tuple[dict[str, Tensor], Tensor]:
        """The plane of time and the first space axis, ``n × n`` points of the bounding box (float64), the other
        coordinates at the mean at each time: 1-D coordinates of those two axes and the mesh ``(n, n, 1 + d)``."""
        coords, mesh = time_plane(self, n)
        mesh[..., 2:] = self.law(mesh[..., :1])[0]
        return coords, mesh


def time_plane(box: Box, n: int) -> tuple[dict[str, Tensor], Tensor]:
    """The plane of ``box``'s first two axes (time, then the first space axis), ``n × n`` points of its bounds, the
    other coordinates 0: their 1-D coordinates and the mesh ``(n, n, dim)`` (float64)."""
    coords = {a: torch.linspace(box.lower[i], box.upper[i], n, dtype=torch.float64) for i, a in enumerate(box.axes[:2])}
    mesh = torch.zeros(n, n, box.dim, dtype=torch.float64)
    mesh[..., 0], mesh[..., 1] = torch.meshgrid(*coords.values(), indexing="ij")
    return coords, mesh
