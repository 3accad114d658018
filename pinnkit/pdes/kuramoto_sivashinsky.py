"""Kuramoto–Sivashinsky: u_t + α u u_x + β u_xx + γ u_xxxx = 0 (α = 5, β = 0.5, γ = 0.005: jaxpi's benchmark) on
x ∈ [-1, 1] periodic, t ∈ [0, 1], u0 = −sin(πx); fourth order in x, chaotic: the long waves grow (−β u_xx), the
short ones decay (−γ u_xxxx) and the nonlinearity moves energy between them. Grid 251 × 512.

Reference computed by pinnkit: Fourier pseudo-spectral ETDRK4 (real symbol β k² − γ k⁴) with 512 modes and
dt = 1e-4; the mean of u is conserved to round-off, and halving dt or doubling the modes changes the solution by
< 1e-7 (tests).
Cached on disk. ``[t_start, t_end] ⊂ [0, 1]`` trains and scores that window only (e.g. the first half, the
benchmark's accuracy bar). A window that starts later takes its initial condition from ``initial``: an ``.npz`` of
samples ``x, u`` on the periodic grid of [-1, 1) (:mod:`pinnkit.pdes.profile`; time-marching windows,
:mod:`pinnkit.marching`, write it from the previous window's net), used as its first ``ic_modes`` Fourier modes.
``hard=True``: ``u = u0(x) + (t − t_start) N``, the initial condition exact (with a net periodic in x,
``model.periodic={x: 2}``, the periodicity too).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..domain import Box
from ..nets.constrained import TENSOR_OPS
from ..references import etdrk4
from .base import Term
from .profile import PeriodicProfile
from .spectral_pde import SpectralReferencePDE


def solve_ks(alpha: float, beta: float, gamma: float, modes: int = 512, dt: float = 1e-4, saves: int = 250):
    """``(t (saves+1,), spectra (saves+1, modes))`` of the KS solution on [-1, 1) over t ∈ [0, 1]."""
    x = -1 + 2 * np.arange(modes) / modes
    k = np.pi * np.fft.fftfreq(modes, 1.0 / modes)

    def nonlin(u: np.ndarray) -> np.ndarray:  # -α u u_x = -α/2 (u²)_x, differentiated spectrally
        return -0.5 * alpha * np.real(np.fft.ifft(1j * k * np.fft.fft(u * u)))

    steps = round(1.0 / dt)
    spectra = etdrk4(-np.sin(np.pi * x), beta * k**2 - gamma * k**4, nonlin, dt, steps, steps // saves)
    return np.linspace(0, 1.0, saves + 1), spectra


class KuramotoSivashinsky(SpectralReferencePDE):
    name = "kuramoto_sivashinsky"
    axes = ("t", "x")
    fields = ("u",)

    def __init__(self, alpha: float = 5.0, beta: float = 0.5, gamma: float = 0.005, nt: int = 251, nx: int = 512,
                 modes: int = 512, dt: float = 1e-4, hard: bool = False, t_end: float = 1.0, t_start: float = 0.0,
                 initial: str | None = None, ic_modes: int = 32) -> None:  # fmt: skip
        t_start, t_end = float(t_start), float(t_end)
        if not 0.0 <= t_start < t_end <= 1.0:
            raise ValueError(f"{self.name}: the window needs 0 <= t_start < t_end <= 1 (the reference covers [0, 1]), "
                             f"got t_start={t_start}, t_end={t_end}")  # fmt: skip
        if t_start > 0 and not initial:
            raise ValueError(f"{self.name}: a window from t_start={t_start} > 0 needs its initial condition: "
                             "pde.initial=<.npz of x, u at t_start> (a march, march.windows, writes them)")  # fmt: skip
        # nt counts grid times over [0, 1]; a shorter window keeps their spacing (the reference's saved times)
        nt_window = round((int(nt) - 1) * (t_end - t_start)) + 1
        super().__init__(Box({"t": (t_start, t_end), "x": (-1.0, 1.0)}), {"t": nt_window, "x": nx}, hard)
        self.alpha, self.beta, self.gamma, self.modes, self.dt = alpha, beta, gamma, modes, dt
        self.initial = None if not initial else PeriodicProfile.read(initial, -1.0, 1.0, ic_modes)

    def terms(self) -> list[Term]:
        def periodic(d: Derivatives, x: Tensor) -> Tensor:
            return torch.stack([d[n][..., 0] - d[n][..., 1] for n in ("u", "u_x", "u_xx", "u_xxx")], -1)

        pde = Term("pde", "interior", ("u", "u_t", "u_x", "u_xx", "u_xxxx"), self.residual)
        edge = Term("periodic", "periodic:x", ("u", "u_x", "u_xx", "u_xxx"), periodic)
        if self.hard:
            return [pde, edge]
        ic = Term("ic", "initial", ("u",), lambda d, x: d["u"] - self.u0(x[..., 1:2], TENSOR_OPS)[..., 0])
        return [pde, ic, edge]

    def u0(self, x, ops):
        """The initial condition at the column ``x (..., 1)``: ``−sin(πx)``, or the ``initial`` profile."""
        return ops.sin(x * math.pi) * -1.0 if self.initial is None else self.initial(x, ops)

    def ansatz(self, x, ops):
        """``u = u0(x) + (t − t_start) N``: the initial condition by construction."""
        return self.u0(ops.col(x, 1), ops), ops.col(x, 0) - self.domain.lower[0]

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        u = d["u"]
        return d["u_t"] + self.alpha * u * d["u_x"] + self.beta * d["u_xx"] + self.gamma * d["u_xxxx"]

    def reference_params(self) -> dict:
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma, "modes": self.modes, "dt": self.dt}

    def solve_reference(self) -> tuple[np.ndarray, np.ndarray]:
        return solve_ks(self.alpha, self.beta, self.gamma, self.modes, self.dt)
