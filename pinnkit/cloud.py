"""A geometry from a file of points: the escape hatch for meshes from CAD, when no signed distance function is at
hand. A ``.npz`` holds

- ``boundary (m, d)``: points on the boundary, with ``normals (m, d)``, their outward unit normals, and optionally
  ``labels (m,)``, the name of each point's boundary piece (strings; ``boundary`` for all when absent);
- optionally ``interior (n, d)``: points inside (a mesh's nodes). Without them, interior points come by rejection
  from the bounding box with the cloud's signed distance below.

:class:`CloudShape` is a :class:`~pinnkit.shapes.Shape` on such points: boundary draws pick stored points (with
their normals and pieces), ``normal(x)`` is the normal of the nearest boundary point, and ``sdf(x)`` the distance
to the nearest boundary point signed by that point's normal (exact on the points, as good as the sampling between
them). :class:`PointCloudDomain` is the :class:`~pinnkit.geometry.GeometryDomain` on it: regions ``interior``,
``boundary``, ``boundary:<label>`` and, with a time interval, ``initial``. A bad file is refused naming the file and
the array.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .geometry import GeometryDomain
from .shapes import Shape


class CloudFileError(ValueError):
    """A point-cloud file is missing, or its arrays are absent, of the wrong shape, non-finite or not unit normals."""


def read_cloud(path: str | Path, dim: int) -> dict[str, np.ndarray]:
    """The arrays of a point-cloud file (module doc), checked: ``boundary``, ``normals``, ``labels``, ``interior``."""
    path = Path(path)
    if path.suffix != ".npz" or not path.is_file():
        raise CloudFileError(f"point cloud {path}: {'does not exist' if path.suffix == '.npz' else 'is not a .npz'}")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    for key in ("boundary", "normals"):
        if key not in arrays:
            raise CloudFileError(f"point cloud {path}: no array {key!r} (it has {sorted(arrays)})")
    for key in ("boundary", "normals", "interior"):
        a = arrays.get(key)
        if a is None:
            continue
        if a.ndim != 2 or a.shape[1] != dim or a.shape[0] == 0 or a.dtype.kind not in "fiu":
            raise CloudFileError(f"point cloud {path}: {key!r} must be numbers of shape (n >= 1, {dim}), got "
                                 f"{a.dtype} {a.shape}")  # fmt: skip
        bad = np.flatnonzero(~np.isfinite(a).all(1))
        if bad.size:
            raise CloudFileError(f"point cloud {path}: {key!r} row {bad[0]} is not finite: {a[bad[0]].tolist()}")
    m = arrays["boundary"].shape[0]
    if arrays["normals"].shape[0] != m:
        raise CloudFileError(f"point cloud {path}: {m} boundary points but {arrays['normals'].shape[0]} normals")
    off = np.flatnonzero(np.abs(np.linalg.norm(arrays["normals"], axis=1) - 1) > 1e-6)
    if off.size:
        raise CloudFileError(f"point cloud {path}: normals row {off[0]} is not a unit vector: "
                             f"{arrays['normals'][off[0]].tolist()}")  # fmt: skip
    labels = arrays.get("labels", np.full(m, "boundary"))
    if labels.shape != (m,) or labels.dtype.kind != "U":
        raise CloudFileError(f"point cloud {path}: 'labels' must be {m} strings, got {labels.dtype} {labels.shape}")
    arrays["labels"] = labels
    return arrays


class CloudShape(Shape):
    """A shape known by boundary points with normals and piece labels (module doc)."""

    def __init__(self, boundary: Tensor, normals: Tensor, labels: Sequence[str]) -> None:
        self.points, self.normals = boundary.double(), normals.double()
        self.dim = self.points.shape[1]
        self.pieces = tuple(dict.fromkeys(str(s) for s in labels))  # in order of first appearance
        self.piece = torch.tensor([self.pieces.index(str(s)) for s in labels])
        lo, hi = self.points.min(0).values.tolist(), self.points.max(0).values.tolist()
        self.bounds = tuple(zip(lo, hi, strict=True))

    def nearest(self, x: Tensor) -> Tensor:
        """``(...,)`` index of the nearest boundary point to each of ``x (..., d)``."""
        pts = self.points.to(x.device, x.dtype)
        flat = x.reshape(-1, self.dim)
        idx = torch.cat([torch.cdist(chunk, pts).argmin(-1) for chunk in flat.split(4096)])
        return idx.reshape(x.shape[:-1])

    def sdf(self, x: Tensor) -> Tensor:
        """``(...,)``: distance to the nearest boundary point, negative where ``x`` lies behind its normal."""
        i = self.nearest(x)
        gap = x - self.points.to(x.device, x.dtype)[i]
        side = torch.sign((gap * self.normals.to(x.device, x.dtype)[i]).sum(-1))
        return torch.where(side == 0, 1.0, side) * gap.norm(dim=-1)

    def normal(self, x: Tensor) -> Tensor:
        return self.normals.to(x.device, x.dtype)[self.nearest(x)]

    def boundary(self, n, gen, dtype=torch.float64, device="cpu"):
        """``n`` stored boundary points drawn uniformly (with replacement), their normals and pieces."""
        i = torch.randint(self.points.shape[0], (n,), generator=gen, device=gen.device).cpu()
        return (self.points[i].to(device, dtype), self.normals[i].to(device, dtype), self.piece[i].to(device))

    def boundary_measure(self) -> float:
        return float(self.points.shape[0])  # a point count: boundary pieces are drawn by their share of the points


class PointCloudDomain(GeometryDomain):
    """The domain of a point-cloud file (module doc) over the spatial ``axes``; ``time=(t0, t1)`` as for
    :class:`~pinnkit.geometry.GeometryDomain`."""

    def __init__(self, path: str | Path, axes: Sequence[str], time: Sequence[float] | None = None,
                 time_axis: str = "t") -> None:  # fmt: skip
        arrays = read_cloud(path, len(axes))
        shape = CloudShape(*(torch.from_numpy(arrays[k].astype(np.float64)) for k in ("boundary", "normals")),
                           arrays["labels"].tolist())  # fmt: skip
        self.stored = None if "interior" not in arrays else torch.from_numpy(arrays["interior"].astype(np.float64))
        super().__init__(shape, axes, time, time_axis)

    def _region(
        self, region: str, n: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device, sampler: str
    ) -> Tensor:
        if region not in ("interior", "initial") or self.stored is None or (region == "initial" and not self.time):
            return super()._region(region, n, gen, dtype, device, sampler)
        x = self.uniform(n, gen, dtype, device, sampler)  # the time column (if any) from the sampler
        pick = torch.randint(self.stored.shape[0], (n,), generator=gen, device=gen.device).cpu()
        x[:, self.space] = self.stored[pick].to(device, dtype)
        if region == "initial":
            x[:, self.axes.index(self.time)] = self.lower[self.axes.index(self.time)]
        return x
