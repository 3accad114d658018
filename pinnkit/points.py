"""The collocation plan: which points each term is evaluated at, step by step, and the validation set.

- :class:`Batch`: one step's points, ``points[term] (n, d)`` (periodic pairs ``(n, 2, d)``), and their *layout*
  for the fused derivative call: the flat ``(P, d)`` concatenation of the terms that have their own points and
  each term's rows in it. Built once per resample, so a step only slices.
- :class:`CollocationPlan`: per-term point counts, sets drawn from a generator seeded by ``(seed, key)`` with
  ``key = step // resample_every``, the second optimizer phase's own cadence (quasi-Newton phases build curvature
  from one objective: the points stay for ``second_every`` steps, or from the switch on), the DDP slice (every
  rank draws the global set and keeps ``rank::world``), residual-based adaptive
  sampling (RAD) through an injected residual score, and the *edge tail*: with ``residual_everywhere`` the
  interior term also holds the initial/boundary terms' points, after its own, and those terms read the interior
  call's rows.
- :class:`ValidationSet`: held-out points, with a reference where one exists (the PDE's grid, or random points where
  a grid cannot cover the domain).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .pdes import PDE, Term
from .pdes.base import FIXED_REGIONS
from .sampling import SAMPLERS, adaptive_choice

#: a term's residual at candidate points, ``(term, x (n, d)) -> (n,) or (n, k)``: how RAD scores candidates
Score = Callable[[Term, Tensor], Tensor]


@dataclass(frozen=True)
class RAD:
    """Residual-based adaptive distribution (Wu et al. 2023): an interior term draws ``pool · n`` candidates and
    keeps ``n``, with probability ``∝ |r|^k / mean |r|^k + c``. ``pool = 0`` is off."""

    pool: int = 0
    k: float = 1.0
    c: float = 1.0

    def __post_init__(self) -> None:
        if self.pool and (self.pool < 1 or self.k < 0 or self.c < 0):
            raise ValueError(f"data.adaptive needs pool >= 1 (0: off), k >= 0 and c >= 0, got {self}")


@dataclass(frozen=True)
class Batch:
    """One step's points. ``flat (P, d)``: the fused call's points (``None``: one call per term); ``rows[term]``:
    a term's rows of ``flat``; ``tails[term] = (host, rows)``: an edge term's rows of its host term's points;
    ``directions (G, K, d)``: the step's random directions for estimated needs (``None`` without any)."""

    points: dict[str, Tensor]
    flat: Tensor | None = None
    rows: dict[str, slice] = field(default_factory=dict)
    tails: dict[str, tuple[str, slice]] = field(default_factory=dict)
    directions: Tensor | None = None

    @property
    def device(self) -> torch.device:
        return next(iter(self.points.values())).device


class CollocationPlan:
    """Where each term of ``pde`` is evaluated at every step (see the module docstring).

    ``points``: points per step of each region key (``Term.points_key``), or of one term by its name (a key
    naming a term wins: ``{"boundary": 200, "lid": 400}``), global counts under DDP;
    ``second_from``: from this step on (the second optimizer phase) a new point set is drawn every
    ``second_every`` steps only (0: the points of that step stay; ``second_from=None``: one cadence throughout).
    """

    def __init__(
        self,
        pde: PDE,
        points: Mapping[str, int],
        resample_every: int = 1,
        seed: int = 0,
        sampler: str = "uniform",
        rad: RAD = RAD(),
        residual_everywhere: bool = False,
        fuse: bool = True,
        second_from: int | None = None,
        second_every: int = 0,
    ) -> None:
        self.pde, self.terms = pde, pde.loss_terms()
        self.points = dict(points)
        for t in self.terms:
            if t.region in FIXED_REGIONS:  # fixed observation points, from the PDE
                pde.fixed_points(t.region)  # a clear error now if there are none
                continue
            n = self.points.get(t.name, self.points.get(t.points_key))
            if n is None or int(n) < 1:
                raise ValueError(
                    f"term {t.name!r} samples region {t.region!r}: set data.points.{t.points_key} (or "
                    f"data.points.{t.name}, for this term alone) >= 1 (given: {self.points})"
                )
        if resample_every < 0 or second_every < 0:
            raise ValueError(f"need resample_every >= 0 and second_every >= 0, got {resample_every}, {second_every}")
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; valid: {SAMPLERS}")
        self.resample_every, self.seed, self.sampler, self.rad = resample_every, seed, sampler, rad
        self.second_from, self.second_every = second_from, int(second_every)
        interior = [t for t in self.terms if t.region == "interior"]
        self.edge_terms = [t for t in self.terms if t.region in ("initial", "boundary")] if residual_everywhere else []
        if residual_everywhere and len(interior) != 1:
            raise ValueError(
                f"residual_everywhere needs exactly one interior term; {pde.name} has {[t.name for t in interior]}"
            )
        self.edge_host = interior[0] if self.edge_terms else None
        self.own_terms = [t for t in self.terms if all(t is not e for e in self.edge_terms)]  # with own points
        self.fixed_terms = {t.name for t in self.terms if t.region in FIXED_REGIONS}  # paired with values: not sliced
        self.fuse = fuse and len(self.terms) > 1
        self._cache: tuple[int, Batch] | None = None

    def key(self, step: int) -> int:
        """The point set used at ``step``: one per ``resample_every`` steps; from ``second_from`` on, the key of
        that step, moved on by one every ``second_every`` steps (past every key of the first phase)."""
        first = self.resample_every
        if self.second_from is None or step < self.second_from:
            return step // first if first else 0
        base = self.second_from // first if first else 0
        return base + ((step - self.second_from) // self.second_every if self.second_every else 0)

    def at(
        self, step: int, dtype: torch.dtype, device: torch.device, score: Score, rank: int = 0, world: int = 1
    ) -> Batch:
        """The batch of ``step`` (cached until its key or the device changes)."""
        key = self.key(step)
        if self._cache is None or self._cache[0] != key or self._cache[1].device != device:
            self._cache = (key, self.sample(key, dtype, device, score, rank, world))
        return self._cache[1]

    def sample(
        self, key: int, dtype: torch.dtype, device: torch.device, score: Score, rank: int = 0, world: int = 1
    ) -> Batch:
        """Every term's points for ``key``, from a generator seeded by ``(seed, key)`` (reproducible on a device
        type), this rank's slice ``rank::world`` of the global set (fixed data points whole: they pair with their
        values), edge tails appended, laid out."""
        gen = torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + key)
        pts = {}
        for t in self.terms:
            if t.region in FIXED_REGIONS:
                pts[t.name] = self.pde.fixed_points(t.region).to(device, dtype)
                continue
            n = self.n(t)
            pool = self.rad.pool if t.region == "interior" else 0
            x = self.pde.domain.sample(t.region, n * max(pool, 1), gen, dtype, device, self.sampler)
            if pool:  # keep n of the pool, favouring large residuals
                with torch.enable_grad():
                    r = score(t, x).detach()
                x = x[adaptive_choice(r, n, self.rad.k, self.rad.c, gen)]
            pts[t.name] = x
        if world > 1:
            pts = {k: v if k in self.fixed_terms else v[rank::world] for k, v in pts.items()}
        if self.edge_terms:  # the interior residual at the edge terms' points too, appended in term order
            edge = [pts[t.name] for t in self.edge_terms]
            pts = {k: torch.cat([v, *edge]) if k == self.edge_host.name else v for k, v in pts.items()}
        return self.layout(pts)

    def layout(self, pts: dict[str, Tensor]) -> Batch:
        """``pts`` with the fused call's flat points, every term's rows and the edge terms' tails."""
        if not self.fuse:
            return Batch(pts)
        parts = [pts[t.name].reshape(-1, len(self.pde.axes)) for t in self.own_terms]
        rows, tails, start = {}, {}, 0
        for t, x in zip(self.own_terms, parts, strict=True):
            rows[t.name] = slice(start, start + x.shape[0])
            start += x.shape[0]
        if self.edge_terms:  # the edge terms' points are the tail of the interior term's
            host = self.edge_host.name
            start = pts[host].shape[0] - sum(pts[t.name].shape[0] for t in self.edge_terms)
            for t in self.edge_terms:
                tails[t.name] = (host, slice(start, start + pts[t.name].shape[0]))
                start += pts[t.name].shape[0]
        return Batch(pts, torch.cat(parts), rows, tails)

    def count(self, term: str) -> int:
        """Points of ``term`` per step in one process (an interior term with edge tails counts them too)."""
        t = next((t for t in self.terms if t.name == term), None)
        if t is None or t.region in FIXED_REGIONS:
            raise ValueError(f"count() takes a sampled term of {self.pde.name}: {[t.name for t in self.own_terms]}")
        n = self.n(t)
        if self.edge_host is not None and t.name == self.edge_host.name:
            n += sum(self.n(e) for e in self.edge_terms)
        return n

    def n(self, t: Term) -> int:
        """Points per step of a sampled term: ``points[t.name]`` if given, else its region key's count."""
        return int(self.points.get(t.name, self.points.get(t.points_key, 0)))

    def size(self) -> int:
        """Points drawn per step, the global counts before a DDP slice (a periodic pair counts twice; a RAD pool
        in full): what the memory check sizes a step by."""
        pool = max(self.rad.pool, 1)
        return sum(
            self.n(t) * (2 if t.region.startswith("periodic") else 1) * (pool if t.region == "interior" else 1)
            for t in self.terms
            if t.region not in FIXED_REGIONS
        )


@dataclass(frozen=True)
class ValidationSet:
    """Held-out points ``(P, d)`` with their reference ``(P, m)`` (``None`` where the PDE has none), points for
    the residual losses ``(R, d)``, and, for a grid, the mask of the grid's points kept ``(n_1 ⋯ n_d,)``."""

    points: Tensor
    reference: Tensor | None
    residual_points: Tensor
    mask: Tensor | None = None

    @staticmethod
    def grid(pde: PDE, residual_points: int, seed: int, dtype: torch.dtype, device: torch.device) -> ValidationSet:
        """The PDE's evaluation grid (the points the domain contains) with its reference where the PDE has one,
        and ``residual_points`` interior points drawn from ``seed``."""
        _, mesh = pde.grid()
        flat = mesh.reshape(-1, mesh.shape[-1]).to(device)
        mask = pde.domain.contains(flat)
        flat = flat[mask]
        ref = pde.exact(flat).reshape(flat.shape[0], -1).to(dtype) if pde.has_reference else None
        gen = torch.Generator(device=device).manual_seed(seed + 7919)
        inner = pde.domain.sample("interior", residual_points, gen, dtype, device)
        return ValidationSet(flat.to(dtype), ref, inner, mask)

    @staticmethod
    def random(pde: PDE, residual_points: int, seed: int, dtype: torch.dtype, device: torch.device) -> ValidationSet:
        """``pde.validation_points`` held-out interior points with their reference (where a grid cannot cover the
        domain: high dimensions), drawn from ``seed`` apart from every training draw, and ``residual_points``."""
        gen = torch.Generator(device=device).manual_seed(seed + 104_729)
        pts = pde.domain.sample("interior", pde.validation_points, gen, dtype, device)
        ref = pde.exact(pts).reshape(pts.shape[0], -1).to(dtype) if pde.has_reference else None
        return ValidationSet(pts, ref, pde.domain.sample("interior", residual_points, gen, dtype, device))

    def shard(self, rank: int, world: int) -> tuple[Tensor, Tensor | None]:
        """This rank's share of the points and reference."""
        ref = None if self.reference is None else self.reference[rank::world]
        return self.points[rank::world], ref
