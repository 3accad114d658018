"""Closed-form derivatives of elementwise activations, for the ``taylor`` backend.

Each function maps ``(h, k)`` to ``[σ(h), σ'(h), ..., σ^(k)(h)]`` for ``k <= 4`` (shapes of ``h``), reusing
``σ(h)`` where the derivatives are polynomials in it (tanh, sigmoid).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

MAX_ORDER = 4


def _check(k: int) -> None:
    if k > MAX_ORDER:
        raise ValueError(f"activation derivatives are implemented up to order {MAX_ORDER}, not {k}")


def tanh(h: Tensor, k: int) -> list[Tensor]:
    _check(k)
    z = torch.tanh(h)
    out = [z]
    if k >= 1:
        out.append(1 - z * z)
    if k >= 2:
        out.append(-2 * z * out[1])
    if k >= 3:
        out.append(-2 * (out[1] * out[1] + z * out[2]))
    if k >= 4:
        out.append(-2 * (3 * out[1] * out[2] + z * out[3]))
    return out


def sin(h: Tensor, k: int) -> list[Tensor]:
    _check(k)
    s = torch.sin(h)
    c = torch.cos(h) if k >= 1 else None
    return [s, c, -s, -c, s][: k + 1]


def cos(h: Tensor, k: int) -> list[Tensor]:
    _check(k)
    c = torch.cos(h)
    s = torch.sin(h) if k >= 1 else None
    return [c, -s, -c, s, c][: k + 1] if k >= 1 else [c]


def exp(h: Tensor, k: int) -> list[Tensor]:
    _check(k)
    return [torch.exp(h)] * (k + 1)


def sigmoid(h: Tensor, k: int) -> list[Tensor]:
    _check(k)
    z = torch.sigmoid(h)
    out = [z]
    if k >= 1:
        out.append(z * (1 - z))
    if k >= 2:
        out.append(out[1] * (1 - 2 * z))
    if k >= 3:
        out.append(out[2] * (1 - 2 * z) - 2 * out[1] * out[1])
    if k >= 4:
        out.append(out[3] * (1 - 2 * z) - 6 * out[1] * out[2])
    return out


def silu(h: Tensor, k: int) -> list[Tensor]:
    """``h σ(h)``: derivatives ``j σ^(j-1) + h σ^(j)``."""
    _check(k)
    sg = sigmoid(h, k)
    return [h * sg[0]] + [j * sg[j - 1] + h * sg[j] for j in range(1, k + 1)]


def softplus(beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + e^(βh)) / β`` as ``nn.Softplus`` computes it: linear where ``βh > threshold``."""

    def derivs(h: Tensor, k: int) -> list[Tensor]:
        _check(k)
        bh = beta * h
        lin = bh > threshold
        out = [torch.where(lin, h, torch.nn.functional.softplus(h, beta, threshold))]
        if k >= 1:
            sg = sigmoid(bh, max(k - 1, 0))  # σ(βh) and its derivatives in βh
            for j in range(1, k + 1):
                out.append(torch.where(lin, torch.full_like(h, 1.0 if j == 1 else 0.0), beta ** (j - 1) * sg[j - 1]))
        return out

    return derivs


def gelu(h: Tensor, k: int) -> list[Tensor]:
    """Exact (erf) GELU ``h Φ(h)``: ``Φ + hφ``, ``φ (2 - h²)``, ``φ (h³ - 4h)``, ``φ (7h² - h⁴ - 4)``."""
    _check(k)
    phi_cdf = 0.5 * (1 + torch.erf(h / math.sqrt(2)))
    out = [h * phi_cdf]
    if k >= 1:
        pdf = torch.exp(-0.5 * h * h) / math.sqrt(2 * math.pi)
        out.append(phi_cdf + h * pdf)
        if k >= 2:
            out.append(pdf * (2 - h * h))
        if k >= 3:
            out.append(pdf * (h * h * h - 4 * h))
        if k >= 4:
            h2 = h * h
            out.append(pdf * (7 * h2 - h2 * h2 - 4))
    return out


def sqrt(h: Tensor, k: int) -> list[Tensor]:
    """``√h`` (``h > 0``): ``1/(2√h)``, ``-1/(4 h^(3/2))``, ``3/(8 h^(5/2))``, ``-15/(16 h^(7/2))``."""
    _check(k)
    z = torch.sqrt(h)
    out = [z]
    for j in range(1, k + 1):  # d/dh h^(1/2 - (j-1)) = (3/2 - j) h^(1/2 - j)
        out.append(out[-1] * (1.5 - j) / h)
    return out


def log(h: Tensor, k: int) -> list[Tensor]:
    """``log h`` (``h > 0``): ``1/h``, ``-1/h²``, ``2/h³``, ``-6/h⁴``."""
    _check(k)
    out, inv = [torch.log(h)], 1 / h if k >= 1 else None
    for j in range(1, k + 1):  # d/dh (-1)^(j-1) (j-1)! h^(-(j-1)) = (-1)^(j-1) (j-1)! h^(-j)
        out.append(inv if j == 1 else out[-1] * (1 - j) * inv)
    return out
