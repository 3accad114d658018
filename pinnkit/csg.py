"""Constructive geometry on :mod:`pinnkit.shapes`: union, intersection and difference of two shapes of one
dimension (``a | b``, ``a & b``, ``a - b``). The SDF is the ``min``/``max`` composition, the normal the active
part's, and boundary points are each part's boundary points that lie on the composite's boundary (drawn by the
parts' measures, then a uniform subset), so they stay uniform by measure."""

from __future__ import annotations

import torch
from torch import Tensor

from .shapes import Shape

OVERSAMPLE = 4  # boundary draws per kept point when parts are cut away (the loop draws again if short)


class _Combined(Shape):
    """Two shapes of one dimension; their pieces, in order, are this shape's."""

    def __init__(self, a: Shape, b: Shape) -> None:
        if a.dim != b.dim:
            raise ValueError(f"constructive geometry needs shapes of one dimension, got {a.dim} and {b.dim}")
        self.a, self.b, self.dim = a, b, a.dim
        self.pieces = (*a.pieces, *b.pieces)
        self.bounds = tuple((min(p[0], q[0]), max(p[1], q[1])) for p, q in zip(a.bounds, b.bounds, strict=True))

    def keep(self, x: Tensor, from_a: bool) -> Tensor:
        """Which boundary points of part ``a`` (``from_a``) or ``b`` lie on this shape's boundary."""
        raise NotImplementedError

    flip_b = False  # a subtracted part's normals point into it: out of the new domain

    def boundary_measure(self) -> float:
        return self.a.boundary_measure() + self.b.boundary_measure()  # an upper bound: parts are cut away

    def boundary(self, n, gen, dtype=torch.float64, device="cpu"):
        ma, mb = self.a.boundary_measure(), self.b.boundary_measure()
        got: list[tuple[Tensor, Tensor, Tensor]] = []
        count, rounds = 0, 0
        while count < n:
            rounds += 1
            if rounds > 50:
                raise RuntimeError(f"{type(self).__name__}: the boundary is (almost) empty; check the shapes")
            m = OVERSAMPLE * (n - count) + 16
            count_t = torch.tensor(float(m), dtype=torch.float64, device=gen.device)
            na = int(torch.binomial(count_t, torch.full_like(count_t, ma / (ma + mb)), generator=gen))
            for part, k, offset, is_a in ((self.a, na, 0, True), (self.b, m - na, len(self.a.pieces), False)):
                if k == 0:
                    continue
                x, nrm, piece = part.boundary(k, gen, dtype, gen.device)
                on = self.keep(x, is_a)
                if not is_a and self.flip_b:
                    nrm = -nrm
                got.append((x[on], nrm[on], piece[on] + offset))
                count += int(on.sum())
        x, nrm, piece = (torch.cat(t) for t in zip(*got, strict=True))
        order = torch.randperm(x.shape[0], generator=gen, device=gen.device)[:n]  # a uniform subset of both parts
        return x[order].to(device), nrm[order].to(device), piece[order].to(device)


class Union(_Combined):
    def sdf(self, x: Tensor) -> Tensor:
        return torch.minimum(self.a.sdf(x), self.b.sdf(x))

    def normal(self, x: Tensor) -> Tensor:
        return torch.where((self.a.sdf(x) <= self.b.sdf(x)).unsqueeze(-1), self.a.normal(x), self.b.normal(x))

    def keep(self, x: Tensor, from_a: bool) -> Tensor:
        return (self.b if from_a else self.a).sdf(x) >= 0


class Intersection(_Combined):
    def sdf(self, x: Tensor) -> Tensor:
        return torch.maximum(self.a.sdf(x), self.b.sdf(x))

    def normal(self, x: Tensor) -> Tensor:
        return torch.where((self.a.sdf(x) >= self.b.sdf(x)).unsqueeze(-1), self.a.normal(x), self.b.normal(x))

    def keep(self, x: Tensor, from_a: bool) -> Tensor:
        return (self.b if from_a else self.a).sdf(x) <= 0


class Difference(_Combined):
    flip_b = True

    def __init__(self, a: Shape, b: Shape) -> None:
        super().__init__(a, b)
        self.bounds = a.bounds

    def sdf(self, x: Tensor) -> Tensor:
        return torch.maximum(self.a.sdf(x), -self.b.sdf(x))

    def normal(self, x: Tensor) -> Tensor:
        return torch.where((self.a.sdf(x) >= -self.b.sdf(x)).unsqueeze(-1), self.a.normal(x), -self.b.normal(x))

    def keep(self, x: Tensor, from_a: bool) -> Tensor:
        return self.b.sdf(x) >= 0 if from_a else self.a.sdf(x) <= 0
