"""Box domains over named axes, and the point sets a PDE's terms are sampled from.

Regions (``(n, d)`` points unless noted):

- ``interior``: uniform in the box (space-time for time-dependent problems);
- ``initial``: the time axis at its lower bound, the rest uniform;
- ``boundary``: on the spatial faces, each face chosen in proportion to its measure (time uniform);
- ``periodic:<axis>``: ``(n, 2, d)`` pairs on the two faces of ``<axis>`` with all other coordinates equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from .sampling import onto_faces, unit_cube


class Box:
    """An axis-aligned box ``{axis: (lower, upper)}``; ``time`` names the time axis, if any."""

    def __init__(self, bounds: Mapping[str, Sequence[float]], time: str | None = "t") -> None:
        self.axes = tuple(bounds)
        self.lower = tuple(float(bounds[a][0]) for a in self.axes)
        self.upper = tuple(float(bounds[a][1]) for a in self.axes)
        if any(hi <= lo for lo, hi in zip(self.lower, self.upper, strict=True)):
            raise ValueError(f"each axis needs lower < upper, got {dict(bounds)}")
        if time is not None and time not in self.axes:
            time = None
        self.time = time
        self.spatial = tuple(i for i, a in enumerate(self.axes) if a != time)

    @property
    def dim(self) -> int:
        return len(self.axes)

    def regions(self) -> tuple[str, ...]:
        base = ["interior", "boundary", *(f"periodic:{self.axes[i]}" for i in self.spatial)]
        return tuple(["initial", *base] if self.time else base)

    def uniform(
        self, n: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device, sampler: str = "uniform"
    ) -> Tensor:
        """``(n, d)`` points filling the box, drawn by ``sampler`` (see :mod:`pinnkit.sampling`)."""
        lo = torch.tensor(self.lower, dtype=dtype, device=device)
        hi = torch.tensor(self.upper, dtype=dtype, device=device)
        return lo + (hi - lo) * unit_cube(sampler, n, self.dim, gen, dtype, device)

    def contains(self, x: Tensor) -> Tensor:
        """``(...,)`` bool: which points ``x (..., d)`` lie in the domain (all of a box's grid)."""
        lo = torch.tensor(self.lower, dtype=x.dtype, device=x.device)
        hi = torch.tensor(self.upper, dtype=x.dtype, device=x.device)
        return ((x >= lo) & (x <= hi)).all(-1)

    def sample(
        self,
        region: str,
        n: int,
        gen: torch.Generator,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        sampler: str = "uniform",
    ) -> Tensor:
        """``n`` points of ``region`` (see the module docstring for shapes), drawn by ``sampler``."""
        if n < 1:
            raise ValueError(f"the number of points for region {region!r} must be >= 1, got {n}")
        return self._region(region, n, gen, dtype, torch.device(device), sampler)

    def _region(
        self, region: str, n: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device, sampler: str
    ) -> Tensor:
        x = self.uniform(n, gen, dtype, device, sampler)
        if region == "interior":
            return x
        if region == "initial" and self.time is not None:
            x[:, self.axes.index(self.time)] = self.lower[self.axes.index(self.time)]
            return x
        if region == "boundary" and self.spatial:
            return self._on_faces(x, gen)
        if region.startswith("periodic:") and region[9:] in self.axes:
            i = self.axes.index(region[9:])
            pair = torch.stack([x, x.clone()], dim=1)
            pair[:, 0, i] = self.lower[i]
            pair[:, 1, i] = self.upper[i]
            return pair
        raise ValueError(f"unknown region {region!r} for a box over {self.axes}; valid: {self.regions()}")

    def _on_faces(self, x: Tensor, gen: torch.Generator) -> Tensor:
        """Move each point onto a spatial face, faces drawn in proportion to their measure."""
        onto_faces(x, self.lower, self.upper, self.spatial, gen)
        return x

    def grid(self, sizes: Mapping[str, int]) -> dict[str, Tensor]:
        """1-D float64 coordinates per axis, ``sizes[axis]`` points including both ends."""
        return {
            a: torch.linspace(lo, hi, int(sizes[a]), dtype=torch.float64)
            for a, lo, hi in zip(self.axes, self.lower, self.upper, strict=True)
        }
