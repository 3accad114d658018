"""Fourier pseudo-spectral ETDRK4 (Cox & Matthews 2002, with Kassam & Trefethen's 2005 contour-integral
coefficients) for periodic 1-D problems ``u_t = L u + N(u)``, and the evaluation of its result anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor


def etdrk4(
    u0: np.ndarray, lin: np.ndarray, nonlin: Callable[[np.ndarray], np.ndarray], dt: float, steps: int, every: int
) -> np.ndarray:
    """Spectra ``(steps // every + 1, n)`` of the solution every ``every`` steps, from ``u0 (n,)`` on a uniform
    periodic grid; ``lin (n,)`` is the linear operator's symbol on ``np.fft.fft``'s wavenumbers. A complex ``u0``
    is a complex field (nonlinear Schrödinger): the nonlinearity then sees complex values."""
    if np.isrealobj(lin):  # real symbol: half circle, real part (Kassam & Trefethen's real-L form)
        r = np.exp(1j * np.pi * (np.arange(1, 33) - 0.5) / 32)
        part = np.real
    else:  # complex symbol (dispersive, e.g. KdV): the full circle, complex coefficients
        r = np.exp(2j * np.pi * (np.arange(1, 65) - 0.5) / 64)
        part = np.asarray
    lr = dt * lin[:, None] + r[None, :]
    e, e2 = np.exp(dt * lin), np.exp(dt * lin / 2)
    q = dt * part(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = dt * part(np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr**2)) / lr**3, axis=1))
    f2 = dt * part(np.mean((2 + lr + np.exp(lr) * (-2 + lr)) / lr**3, axis=1))
    f3 = dt * part(np.mean((-4 - 3 * lr - lr**2 + np.exp(lr) * (4 - lr)) / lr**3, axis=1))
    field = np.asarray if np.iscomplexobj(u0) else np.real
    nl = lambda v: np.fft.fft(nonlin(field(np.fft.ifft(v))))  # noqa: E731
    v = np.fft.fft(u0)
    out = [v]
    for k in range(1, steps + 1):
        nv = nl(v)
        a = e2 * v + q * nv
        na = nl(a)
        b = e2 * v + q * na
        nb = nl(b)
        c = e2 * a + q * (2 * nb - nv)
        v = e * v + nv * f1 + 2 * (na + nb) * f2 + nl(c) * f3
        if k % every == 0:
            out.append(v)
    return np.stack(out)


class SpectralSolution:
    """A spectral solution on ``x ∈ [lo, hi)`` (periodic) saved at times ``t (nt,)``: ``spectra (nt, n)``.

    ``__call__(x)`` evaluates it at points ``x (..., 2)`` over ``(t, x)`` by Fourier interpolation in x (exact
    for the resolved modes) and linear interpolation in t (exact at the saved times); ``(...,)``, complex when
    ``real`` is false (a complex field).
    """

    def __init__(self, t: np.ndarray, spectra: np.ndarray, lo: float, hi: float, real: bool = True) -> None:
        self.t, self.lo, self.length, self.real = t, lo, hi - lo, real
        n = spectra.shape[-1]
        self.coef = spectra / n  # u(x) = Σ_k coef_k exp(i k (x - lo))
        self.k = 2 * math.pi / self.length * np.fft.fftfreq(n, 1.0 / n)

    def __call__(self, x: Tensor) -> Tensor:
        pts = x.detach().cpu().double().reshape(-1, 2).numpy()
        t = np.clip(pts[:, 0], self.t[0], self.t[-1])
        i = np.clip(np.searchsorted(self.t, t, side="right") - 1, 0, len(self.t) - 2)
        w = (t - self.t[i]) / (self.t[i + 1] - self.t[i])
        phase = np.exp(1j * np.outer(pts[:, 1] - self.lo, self.k))  # (P, n)
        u = (1 - w) * np.sum(phase * self.coef[i], axis=1) + w * np.sum(phase * self.coef[i + 1], axis=1)
        if self.real:
            return torch.as_tensor(np.real(u), dtype=x.dtype, device=x.device).reshape(x.shape[:-1])
        return torch.as_tensor(u, dtype=x.dtype.to_complex(), device=x.device).reshape(x.shape[:-1])
