"""Point sets in the unit cube ``[0, 1)^d``: uniform random, scrambled Sobol, Latin hypercube and Hammersley.

Domains map these onto their regions; ``data.sampler`` picks one. Every sampler draws from the run's
``torch.Generator`` (Sobol's scrambling seed too), so a point set is reproducible from ``(seed, step)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

SAMPLERS = ("uniform", "sobol", "lhs", "hammersley")
PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53)


def radical_inverse(i: Tensor, base: int) -> Tensor:
    """Van der Corput radical inverse ``(n,)`` float64 of the integers ``i (n,)`` in ``base``: the digits of ``i``
    mirrored about the radix point (``6 = 110₂ -> 0.011₂ = 0.375``)."""
    out = torch.zeros(i.shape, dtype=torch.float64, device=i.device)
    scale, i = 1.0 / base, i.clone()
    while bool((i > 0).any()):
        out += (i % base).double() * scale
        i, scale = i // base, scale / base
    return out


def unit_cube(kind: str, n: int, dim: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(n, dim)`` points in ``[0, 1)^dim``.

    ``uniform``: i.i.d. uniform; ``sobol``: a scrambled Sobol sequence (low discrepancy; best balanced when ``n``
    is a power of 2); ``lhs``: Latin hypercube, one point in each of the ``n`` strata of every axis;
    ``hammersley``: the Hammersley set (axis 0 ``i / n``, axis ``k`` the radical inverse of ``i`` in the ``k``-th
    prime: DeepXDE's default points, whose time axis is the evenly spaced one, as pinnkit's axis 0 is), shifted by
    one random vector modulo 1 (Cranley-Patterson) so each draw is a fresh set; up to 17 dimensions.
    """
    if kind == "uniform":
        return torch.rand(n, dim, generator=gen, dtype=dtype, device=device)
    if kind == "sobol":
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device))
        engine = torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed)
        return engine.draw(n, dtype=torch.float64).to(device, dtype)
    if kind == "lhs":
        strata = torch.argsort(torch.rand(dim, n, generator=gen, device=device), dim=1)  # a permutation per axis
        jitter = torch.rand(dim, n, generator=gen, dtype=dtype, device=device)
        return ((strata.to(dtype) + jitter) / n).T.contiguous()
    if kind == "hammersley":
        if dim > len(PRIMES) + 1:
            raise ValueError(f"the hammersley sampler covers up to {len(PRIMES) + 1} dimensions, got {dim}")
        i = torch.arange(n, device=device)
        cols = [i.double() / n, *(radical_inverse(i, b) for b in PRIMES[: dim - 1])]
        shift = torch.rand(dim, generator=gen, dtype=torch.float64, device=device)
        return ((torch.stack(cols, dim=-1) + shift) % 1.0).to(dtype)
    raise ValueError(f"unknown sampler {kind!r}; valid: {SAMPLERS}")


def adaptive_choice(residual: Tensor, n: int, k: float, c: float, gen: torch.Generator) -> Tensor:
    """Indices ``(n,)`` of ``n`` distinct candidates drawn with probability ``∝ |r|^k / mean |r|^k + c``
    (residual-based adaptive distribution, RAD, Wu et al. 2023; ``k = 1, c = 1`` is their robust default).

    ``residual``: ``(P,)`` or ``(P, j)`` at the ``P >= n`` candidates (a multi-component residual uses its norm).
    """
    r = residual.reshape(residual.shape[0], -1).norm(dim=-1).double()
    e = r**k
    p = e / e.mean().clamp_min(torch.finfo(e.dtype).tiny) + c
    if not torch.isfinite(p).all():  # a non-finite residual: fall back to uniform rather than crash sampling
        p = torch.ones_like(p)
    return torch.multinomial(p, n, replacement=False, generator=gen)


def onto_faces(x: Tensor, lower: Sequence[float], upper: Sequence[float], axes: Sequence[int],
               gen: torch.Generator) -> Tensor:  # fmt: skip
    """Move each row of ``x (n, d)`` onto one face of the box ``lower <= x <= upper`` over the columns ``axes``,
    faces drawn in proportion to their measure (in place); the face of each row ``(n,)``, ``2k + side`` for the
    ``k``-th of ``axes`` (side 0 lower, 1 upper)."""
    widths = [upper[i] - lower[i] for i in axes]
    measure = [math.prod(w for j, w in enumerate(widths) if j != k) for k in range(len(axes))]
    probs = torch.tensor([m for m in measure for _ in (0, 1)], dtype=torch.float64, device=x.device)
    face = torch.multinomial(probs / probs.sum(), x.shape[0], replacement=True, generator=gen)
    for k, i in enumerate(axes):
        for side, bound in enumerate((lower[i], upper[i])):
            x[face == 2 * k + side, i] = bound
    return face
