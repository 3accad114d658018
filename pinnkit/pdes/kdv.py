"""Korteweg-de Vries: u_t + η u u_x + μ² u_xxx = 0 (η = 1, μ = 0.022: Zabusky & Kruskal's soliton-forming case, the
jaxpi benchmark) on x ∈ [-1, 1] periodic, t ∈ [0, 1], u0 = cos(πx); third order in x; grid 201 × 512.

Reference computed by pinnkit: Fourier pseudo-spectral ETDRK4 (complex dispersive symbol i μ² k³, full-circle
contour coefficients) with 512 modes and dt = 1e-4; mass and L2 norm are conserved to round-off and halving dt
changes the solution by < 1e-8 (tests). Cached on disk. ``hard=True``: ``u = cos(πx) + t N``, the initial condition
exact (with a net periodic in x, ``model.periodic={x: 2}``, the periodicity too).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..domain import Box
from ..references import etdrk4
from .base import Term
from .spectral_pde import SpectralReferencePDE


def solve_kdv(eta: float, mu: float, modes: int = 512, dt: float = 1e-4, t_end: float = 1.0, saves: int = 200):
    """``(t (saves+1,), spectra (saves+1, modes))`` of the KdV solution on [-1, 1)."""
    x = -1 + 2 * np.arange(modes) / modes
    k = np.pi * np.fft.fftfreq(modes, 1.0 / modes)

    def nonlin(u: np.ndarray) -> np.ndarray:  # -η u u_x = -η/2 (u²)_x, differentiated spectrally
        return -0.5 * eta * np.real(np.fft.ifft(1j * k * np.fft.fft(u * u)))

    steps = round(t_end / dt)
    spectra = etdrk4(np.cos(np.pi * x), 1j * mu**2 * k**3, nonlin, dt, steps, steps // saves)
    return np.linspace(0, t_end, saves + 1), spectra


class KdV(SpectralReferencePDE):
    name = "kdv"
    axes = ("t", "x")
    fields = ("u",)

    def __init__(self, eta: float = 1.0, mu: float = 0.022, nt: int = 201, nx: int = 512, modes: int = 512,
                 dt: float = 1e-4, hard: bool = False) -> None:  # fmt: skip
        super().__init__(Box({"t": (0.0, 1.0), "x": (-1.0, 1.0)}), {"t": nt, "x": nx}, hard)
        self.eta, self.mu, self.modes, self.dt = eta, mu, modes, dt

    def terms(self) -> list[Term]:
        def periodic(d: Derivatives, x: Tensor) -> Tensor:
            return torch.stack([d[n][..., 0] - d[n][..., 1] for n in ("u", "u_x", "u_xx")], -1)

        pde = Term("pde", "interior", ("u", "u_t", "u_x", "u_xxx"), self.residual)
        edge = Term("periodic", "periodic:x", ("u", "u_x", "u_xx"), periodic)
        if self.hard:
            return [pde, edge]
        return [pde, Term("ic", "initial", ("u",), lambda d, x: d["u"] - torch.cos(math.pi * self.col(x, "x"))), edge]

    def ansatz(self, x, ops):
        """``u = cos(πx) + t N``: the initial condition by construction."""
        return ops.cos(ops.col(x, 1) * math.pi), ops.col(x, 0)

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        return d["u_t"] + self.eta * d["u"] * d["u_x"] + self.mu**2 * d["u_xxx"]

    def reference_params(self) -> dict:
        return {"eta": self.eta, "mu": self.mu, "modes": self.modes, "dt": self.dt}

    def solve_reference(self) -> tuple[np.ndarray, np.ndarray]:
        return solve_kdv(self.eta, self.mu, self.modes, self.dt)
