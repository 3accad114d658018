"""The Cole–Hopf value of the HJB equation ``u_t + Δu − λ|∇u|² = 0``, ``u(T, x) = g(x) = ln((1 + |x|²)/2)``.

``u(t, x) = −(1/λ) ln E[exp(−λ g(x + √2 W_(T−t)))] = −(1/λ) ln E[(2 / (1 + |Z|²))^λ]``, ``Z ~ N(x, 2τ I_d)``,
``τ = T − t``. The expectation depends on ``Z`` through ``|Z|²`` only, which splits along ``x`` and across it:
``|Z|² = (|x| + σa)² + σ²q`` with ``σ = √(2τ)``, ``a ~ N(0, 1)`` and ``q ~ χ²_(d−1)`` independent. So

- :func:`cole_hopf` estimates ``u`` at many points by Monte Carlo over shared samples ``(a, q)`` (antithetic in
  ``a``), with each point's standard error (delta method: ``se(u) = sd(h) / (√M λ mean(h))``);
- :func:`value_at_origin` estimates ``u(0, 0)`` from ``|Z|² = 2T χ²_d`` with at least a million samples, and
- :func:`quadrature_at_origin` integrates the same expectation against the χ²_d density (a check on both).

All in float64; deterministic for a seed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _chi2(n: int, df: int, seed: int) -> Tensor:
    """``n`` χ² samples with ``df`` degrees of freedom (float64), from ``seed`` (the global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.distributions.Chi2(torch.tensor(float(df), dtype=torch.float64)).sample((n,))


def _kernel(sq: Tensor, lam: float) -> Tensor:
    """``exp(−λ g)`` as a function of ``|Z|²``: ``(2 / (1 + |Z|²))^λ``."""
    return (2.0 / (1.0 + sq)).pow(lam)


def cole_hopf(
    tx: Tensor, lam: float = 1.0, horizon: float = 1.0, samples: int = 65536, seed: int = 0, chunk: int = 64
) -> tuple[Tensor, Tensor]:
    """``(u, se)``, each ``(n,)``: the Monte Carlo value at points ``tx (n, 1 + d)`` (time first) and its
    standard error; ``samples`` pairs ``(a, q)`` (rounded up to even: ``a`` and ``−a``) shared by all points."""
    tx = tx.to(torch.float64)
    d, half = tx.shape[-1] - 1, (samples + 1) // 2
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(half, generator=gen, dtype=torch.float64)
    a, q = torch.cat([a, -a]), _chi2(2 * half, d - 1, seed + 1) if d > 1 else torch.zeros(2 * half)
    tau = (horizon - tx[:, 0]).clamp_min(0.0)
    r = tx[:, 1:].norm(dim=-1)
    values, errors = [], []
    for sig, rad in zip((2 * tau).sqrt().split(chunk), r.split(chunk), strict=True):
        h = _kernel((rad[:, None] + sig[:, None] * a).square() + sig[:, None].square() * q, lam)  # (chunk, M)
        mean = h.mean(-1)
        pairs = 0.5 * (h[:, :half] + h[:, half:])  # antithetic pairs: independent, so their spread is the error
        values.append(-torch.log(mean) / lam)
        errors.append(pairs.std(-1) / math.sqrt(half) / (lam * mean))
    return torch.cat(values), torch.cat(errors)


def value_at_origin(
    d: int, lam: float = 1.0, horizon: float = 1.0, samples: int = 10_000_000, seed: int = 0
) -> tuple[float, float]:
    """``(u(0, 0), se)`` by Monte Carlo: ``|Z|² = 2T χ²_d``, ``samples`` draws (in batches of 2^20)."""
    total, total_sq, n, k = 0.0, 0.0, 0, 0
    while n < samples:
        m = min(2**20, samples - n)
        h = _kernel(2 * horizon * _chi2(m, d, seed + k), lam)
        total, total_sq, n, k = total + float(h.sum()), total_sq + float(h.square().sum()), n + m, k + 1
    mean = total / n
    sd = math.sqrt(max(total_sq / n - mean * mean, 0.0))
    return -math.log(mean) / lam, sd / math.sqrt(n) / (lam * mean)


def quadrature_at_origin(d: int, lam: float = 1.0, horizon: float = 1.0, nodes: int = 200_001) -> float:
    """``u(0, 0)`` by the trapezoid rule against the χ²_d density over its mean ± 40 standard deviations."""
    sd = math.sqrt(2 * d)
    q = torch.linspace(max(d - 40 * sd, 0.0), d + 40 * sd, nodes, dtype=torch.float64)[1:]
    log_pdf = (d / 2 - 1) * torch.log(q) - q / 2 - (d / 2) * math.log(2) - math.lgamma(d / 2)
    mean = torch.trapezoid(torch.exp(log_pdf) * _kernel(2 * horizon * q, lam), q)
    return float(-torch.log(mean) / lam)
