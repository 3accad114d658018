"""A periodic initial profile ``u0(x)`` given by samples, as its trigonometric interpolant: a time window's initial
condition from the previous window's prediction (:mod:`pinnkit.marching`), or any measured periodic profile.

Samples ``u_j = u0(x_j)`` at ``x_j = lo + j L / n`` (``j < n``, ``L = hi - lo``) give the Fourier coefficients
``a_k, b_k`` of ``u0(x) = a_0 + Σ_(1≤k≤K) a_k cos(k ω (x - lo)) + b_k sin(k ω (x - lo))``, ``ω = 2π / L``, with
``K = modes`` (``< n / 2``: the Nyquist mode, which samples cannot tell apart from aliasing, is never kept). The
interpolant reproduces every band-limited profile with ``K`` modes exactly and is infinitely differentiable, so a
hard-constraint ansatz (:mod:`pinnkit.nets.constrained`) evaluates it and its x-derivatives of any order through
the same ``ops`` (tensors or Taylor jets) as the rest of the ansatz: one linear map to the ``K`` phases, their sines
and cosines, one linear map to the value.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..atomic import save_npz


class PeriodicProfileError(ValueError):
    """A profile file that is missing, unreadable, or not samples on a uniform periodic grid."""


class PeriodicProfile:
    """``u0(x)`` on ``[lo, hi)`` (periodic) from ``u (n,)`` sampled at ``x_j = lo + j (hi - lo) / n``."""

    def __init__(self, u: np.ndarray, lo: float, hi: float, modes: int) -> None:
        u = np.asarray(u, dtype=np.float64)
        n = u.shape[0] if u.ndim == 1 else 0
        if n < 3 or not np.isfinite(u).all():
            raise PeriodicProfileError(f"a periodic profile needs >= 3 finite samples (n,), got shape {u.shape}")
        if not 1 <= int(modes) < n / 2:
            raise PeriodicProfileError(f"modes must be in [1, n/2) for n = {n} samples (the Nyquist mode is never "
                                       f"kept), got {modes}")  # fmt: skip
        self.lo, self.length, self.modes = float(lo), float(hi) - float(lo), int(modes)
        c = np.fft.rfft(u) / n  # u_j = Σ_k c_k e^{2πi jk/n}: a_k = 2 Re c_k, b_k = -2 Im c_k (k ≥ 1)
        self.mean = float(c[0].real)
        k = np.arange(1, self.modes + 1)
        self.weight = torch.as_tensor(2 * math.pi / self.length * k, dtype=torch.float64)[:, None]  # (K, 1)
        self.bias = torch.as_tensor(-2 * math.pi / self.length * k * self.lo, dtype=torch.float64)  # (K,)
        coef = np.concatenate([2 * c[1 : self.modes + 1].real, -2 * c[1 : self.modes + 1].imag])
        self.coef = torch.as_tensor(coef, dtype=torch.float64)[None, :]  # (1, 2K): cosines, then sines

    @classmethod
    def read(cls, path: str | Path, lo: float, hi: float, modes: int) -> PeriodicProfile:
        """The profile in an ``.npz`` with arrays ``x (n,)`` (the grid ``lo + j (hi - lo) / n``) and ``u (n,)``."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                x, u = np.asarray(f["x"], dtype=np.float64), np.asarray(f["u"], dtype=np.float64)
        except (OSError, KeyError, ValueError) as err:
            raise PeriodicProfileError(f"initial profile {str(path)!r}: needs an .npz with arrays 'x' and 'u' "
                                       f"({type(err).__name__}: {err})") from err  # fmt: skip
        grid = periodic_grid(lo, hi, u.shape[0] if u.ndim == 1 else 0)
        if x.shape != grid.shape or not np.allclose(x, grid, rtol=0, atol=1e-9 * (hi - lo)):
            raise PeriodicProfileError(f"initial profile {str(path)!r}: x must be the uniform periodic grid "
                                       f"lo + j (hi - lo) / n, j < n, on [{lo}, {hi}) (periodic_grid({lo}, {hi}, n)), "
                                       f"and u its samples (n,)")  # fmt: skip
        return cls(u, lo, hi, modes)

    def __call__(self, x, ops):
        """``u0`` at the column ``x (..., 1)`` (a tensor or a jet), through ``ops``: ``(..., 1)``."""
        dtype = x.dtype if isinstance(x, Tensor) else x.value.dtype
        device = x.device if isinstance(x, Tensor) else x.value.device
        w, b, c = (t.to(dtype=dtype, device=device) for t in (self.weight, self.bias, self.coef))
        phase = ops.linear(x, w, b)  # (..., K): k ω (x - lo)
        return ops.linear(ops.cat([ops.cos(phase), ops.sin(phase)]), c) + self.mean


def periodic_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """``x_j = lo + j (hi - lo) / n`` for ``j < n`` (``(n,)``): where a :class:`PeriodicProfile` is sampled."""
    return lo + (hi - lo) * np.arange(n) / max(n, 1)


def save_profile(path: str | Path, x: np.ndarray, u: np.ndarray) -> None:
    """Write a profile file for :meth:`PeriodicProfile.read` (atomically)."""
    save_npz(Path(path), x=np.asarray(x, dtype=np.float64), u=np.asarray(u, dtype=np.float64))
