"""Unbiased estimates of any linear differential operator of order <= 4 from Gaussian directions (Hermite weights).

For ``L u = Σ_α c_α ∂^α u`` (multi-indices ``α`` of orders 1..4 over some axes) and ``v ~ N(0, I)`` on those axes,

    E[ Σ_k (1/k!) D^k u[v, .., v] · H_k(v) ] = L u,   H_k(v) = Σ_(|α| = k) c_α He_α(v),  He_α(v) = Π_i He_(α_i)(v_i),

with ``He_n`` the probabilists' Hermite polynomials (``He_2 = v² - 1``, ``He_3 = v³ - 3v``, ``He_4 = v⁴ - 6v² + 3``):
``D^k u[v^k] = Σ_(|β|=k) (k!/β!) ∂^β u v^β`` and ``E[v^β He_α(v)] = α! δ_αβ`` for ``|β| = |α|``. So one Taylor jet of
order K along each direction serves every term of the operator at once (its coefficients are ``D^k u[v^k]``, k ≤ K),
at a cost of O(S) directions whatever d and however many terms; the weights are polynomials of the directions,
which enter the step as inputs. This is the dense-Gaussian form of the stochastic Taylor derivative estimator;
a Laplacian or a biharmonic keeps its lower-variance special form (:mod:`pinnkit.derivatives.estimates`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import torch
from torch import Tensor


def _he(n: int, v: Tensor) -> Tensor:
    """The probabilists' Hermite polynomial ``He_n(v)``, n ≤ 4, elementwise."""
    if n == 1:
        return v
    if n == 2:
        return v * v - 1
    if n == 3:
        return v * (v * v - 3)
    if n == 4:
        w = v * v
        return w * (w - 6) + 3
    raise ValueError(f"Hermite weights go to order 4, got {n}")


def hermite_weights(terms: Sequence[tuple[tuple[int, ...], float]], order: int, v: Tensor) -> Tensor:
    """``(order, S)``: row ``k - 1`` is ``H_k(v) / k!`` for directions ``v (S, d)``; ``terms`` are ``((axes, c), ...)``
    with ``axes`` a tuple of axis indices (``(0, 0, 1)``: ``∂_0² ∂_1``)."""
    rows = [v.new_zeros(v.shape[0]) for _ in range(order)]
    for axes, c in terms:
        w = None
        for i, n in sorted(Counter(axes).items()):
            h = _he(n, v[:, i])
            w = h if w is None else w * h
        rows[len(axes) - 1] = rows[len(axes) - 1] + (c / math.factorial(len(axes))) * w
    return torch.stack(rows)


def combine(chain: Sequence[Tensor], weights: Tensor) -> Tensor:
    """``Σ_k weights[k-1] · chain[k-1]``: per-direction estimates ``(S, N)`` from the directional derivatives
    ``chain[k-1] = D^k u[v^k] (S, N)`` and :func:`hermite_weights` ``(order, S)``."""
    out = None
    for k, t in enumerate(chain):
        term = weights[k][:, None] * t
        out = term if out is None else out + term
    return out


__all__ = ["combine", "hermite_weights"]
