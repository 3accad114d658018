"""Measured data from files: observations of some of a PDE's fields at points of its domain.

A file holds one column per coordinate, named by the PDE's axes (all of them), and one per observed field, named by
the PDE's fields (any non-empty subset: a field without a column stays unobserved, e.g. the pressure from velocity
data). ``.csv`` (a header row of names, then numbers) or ``.npz`` (one 1-D array per name). Everything is checked
before training starts, each failure naming the file, the row and the column: a name that is neither an axis nor
a field, a missing axis, no field at all, a value that is not a number, NaN or Inf, a point outside the domain.

``data.observations=<file>`` adds the term ``observed`` (the mean square of prediction minus observation over the
observed fields) to the PDE's terms, and ``data.observations_holdout`` keeps that fraction of the rows (drawn from
the run's seed) out of training for the validation metric ``val/data_rel`` (relative L2 over the held-out rows).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .atomic import write_text

KINDS = (".csv", ".npz")


class ObservationError(ValueError):
    """An observations file that cannot be used as it is; the message names the file, row and column."""


@dataclass(frozen=True)
class Observations:
    """``x (N, d)`` in the PDE's axis order and ``values (N, k)`` of the observed ``fields`` (in the PDE's field
    order), float64, from ``source``."""

    x: Tensor
    values: Tensor
    fields: tuple[str, ...]
    source: str

    @staticmethod
    def none(axes: tuple[str, ...], fields: tuple[str, ...]) -> Observations:
        """No rows, every field: the ``observed`` term's place in a rebuilt run that does not train."""
        empty = torch.zeros(0, len(axes), dtype=torch.float64)
        return Observations(empty, torch.zeros(0, len(fields), dtype=torch.float64), tuple(fields), "(not read)")

    def split(self, holdout: float, seed: int) -> tuple[Observations, Observations | None]:
        """``(training rows, held-out rows)``: a ``holdout`` fraction drawn from ``seed`` (``None``: none held out)."""
        if not 0 <= holdout < 1:
            raise ObservationError(f"data.observations_holdout must lie in [0, 1), got {holdout}")
        n = self.x.shape[0]
        k = round(holdout * n)
        if k == 0:
            return self, None
        if k >= n:
            raise ObservationError(f"{self.source}: holding out {k} of {n} rows leaves none to train on")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 104729))
        pick = lambda idx: Observations(self.x[idx], self.values[idx], self.fields, self.source)  # noqa: E731
        return pick(order[k:].sort().values), pick(order[:k].sort().values)


def _columns(path: Path) -> tuple[dict[str, np.ndarray], int]:
    """The file's columns by name and the row number of its first data row (for messages)."""
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as f:
            cols = {name: np.asarray(f[name]) for name in f.files}
        for name, col in cols.items():
            if col.ndim != 1:
                raise ObservationError(f"{path}: array {name!r} has shape {col.shape}; one 1-D array per column")
        lengths = {len(c) for c in cols.values()}
        if len(lengths) > 1:
            raise ObservationError(f"{path}: the arrays have different lengths {sorted(lengths)}")
        return cols, 0
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ObservationError(f"{path}: the file is empty; it needs a header row naming its columns")
    header = [h.strip() for h in rows[0]]
    values: dict[str, list] = {h: [] for h in header}
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not v.strip() for v in row):
            continue
        if len(row) != len(header):
            raise ObservationError(f"{path}: line {line} has {len(row)} values for the {len(header)} columns {header}")
        for name, text in zip(header, row, strict=True):
            try:
                values[name].append(float(text))
            except ValueError:
                msg = f"{path}: line {line}, column {name!r}: {text.strip()!r} is not a number"
                raise ObservationError(msg) from None
    return {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}, 2


def read_observations(path: str | Path, axes: tuple[str, ...], fields: tuple[str, ...], domain) -> Observations:
    """Read and check ``path`` (module doc) for a PDE with these ``axes`` and ``fields`` on ``domain``."""
    path = Path(path)
    if path.suffix.lower() not in KINDS:
        raise ObservationError(f"observations file {str(path)!r} is not one of {', '.join(KINDS)}")
    if not path.is_file():
        raise ObservationError(f"observations file {str(path)!r} does not exist")
    cols, first = _columns(path)
    unknown = [c for c in cols if c not in axes and c not in fields]
    if unknown:
        raise ObservationError(f"{path}: unknown column(s) {unknown}; the axes are {list(axes)} and the fields "
                               f"{list(fields)}")  # fmt: skip
    missing = [a for a in axes if a not in cols]
    if missing:
        raise ObservationError(f"{path}: no column for the axis/axes {missing}; every axis of {list(axes)} is needed")
    observed = tuple(f for f in fields if f in cols)
    if not observed:
        raise ObservationError(f"{path}: no observed field; name a column after one of {list(fields)}")
    n = len(cols[axes[0]])
    if n == 0:
        raise ObservationError(f"{path}: no data rows")
    where = "line" if first else "row"
    for name in (*axes, *observed):
        bad = np.flatnonzero(~np.isfinite(cols[name]))
        if bad.size:
            raise ObservationError(f"{path}: {where} {bad[0] + first}, column {name!r}: {cols[name][bad[0]]} "
                                   f"({bad.size} non-finite in that column); drop or fill those rows")  # fmt: skip
    x = torch.as_tensor(np.stack([cols[a] for a in axes], -1))
    inside = domain.contains(x)
    if not bool(inside.all()):
        bad = int(torch.nonzero(~inside)[0])
        point = dict(zip(axes, x[bad].tolist(), strict=True))
        raise ObservationError(f"{path}: {where} {bad + first} lies outside the domain: {point} "
                               f"({int((~inside).sum())} point(s) outside)")  # fmt: skip
    values = torch.as_tensor(np.stack([cols[f] for f in observed], -1))
    return Observations(x, values, observed, str(path))


def data_rel(pred: Tensor, values: Tensor) -> Tensor:
    """Relative L2 of ``pred`` against ``values`` (of one shape, e.g. ``(N, k)``)."""
    return torch.linalg.vector_norm(pred - values) / torch.linalg.vector_norm(values).clamp_min(math.ulp(1.0))


def write_synthetic(pde, path: str | Path, n: int = 2000, noise: float = 0.01, seed: int = 0) -> Path:
    """A CSV of ``n`` observations of every field of ``pde`` (one with a reference): interior points drawn from
    ``seed``, the reference plus Gaussian noise of ``noise`` times each field's mean magnitude (drawn from
    ``seed + 1``); columns the axes, then the fields. For trying an inverse problem before measured data exist."""
    x = pde.domain.sample("interior", n, torch.Generator().manual_seed(seed), torch.float64)
    u = pde.exact(x)
    u = u + noise * u.abs().mean(0) * torch.randn(u.shape, generator=torch.Generator().manual_seed(seed + 1),
                                                    dtype=u.dtype)  # fmt: skip
    rows = "\n".join(",".join(f"{float(v):.17g}" for v in (*p, *w)) for p, w in zip(x, u, strict=True))
    write_text(path, ",".join((*pde.axes, *pde.fields)) + "\n" + rows + "\n")
    return Path(path)
