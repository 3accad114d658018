"""Nonlinear Schrödinger: i h_t + ½ h_xx + |h|² h = 0 on x ∈ [-5, 5] periodic, t ∈ [0, π/2], h(0, x) = 2 sech(x);
fields u = Re h, v = Im h (the benchmark of Raissi et al. 2019; evaluation grid 201 × 256):

    u_t + ½ v_xx + (u² + v²) v = 0,    v_t - ½ u_xx - (u² + v²) u = 0.

Reference computed by pinnkit: Fourier pseudo-spectral ETDRK4 for the complex field (symbol -i k²/2,
nonlinearity i |h|² h) with 512 modes and 16,000 steps, cached on disk. Mass ∫|h|² is conserved to 1e-12 and
halving the step changes h by < 1e-8 (tests); doubling the modes changes it by ~5e-6 of max |h|, an algebraic
rate because the periodic extension of 2 sech(x) has a kink in h_x at x = ±5 (the benchmark's own setup).
``hard=True``: ``(u, v) = (2 sech x, 0) + t N``, the initial condition exact.
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

T_END = math.pi / 2


def solve_schrodinger(modes: int = 256, steps: int = 16000, saves: int = 200, half_width: float = 5.0):
    """``(t (saves+1,), spectra (saves+1, modes))`` of the complex field h on [-half_width, half_width)."""
    if steps % saves:
        raise ValueError(f"steps ({steps}) must be a multiple of saves ({saves})")
    x = -half_width + 2 * half_width * np.arange(modes) / modes
    k = np.pi / half_width * np.fft.fftfreq(modes, 1.0 / modes)
    h0 = (2 / np.cosh(x)).astype(complex)
    spectra = etdrk4(h0, -0.5j * k**2, lambda h: 1j * np.abs(h) ** 2 * h, T_END / steps, steps, steps // saves)
    return np.linspace(0, T_END, saves + 1), spectra


class Schrodinger(SpectralReferencePDE):
    name = "schrodinger"
    axes = ("t", "x")
    fields = ("u", "v")
    real_field = False

    def __init__(self, nt: int = 201, nx: int = 256, modes: int = 512, steps: int = 16000, hard: bool = False) -> None:
        super().__init__(Box({"t": (0.0, T_END), "x": (-5.0, 5.0)}), {"t": nt, "x": nx}, hard)
        self.modes, self.steps = modes, steps

    def terms(self) -> list[Term]:
        pde = Term("pde", "interior", ("u", "v", "u_t", "v_t", "u_xx", "v_xx"), self.residual)
        edge = Term(
            "periodic",
            "periodic:x",
            ("u", "v", "u_x", "v_x"),
            lambda d, x: torch.stack([d[n][..., 0] - d[n][..., 1] for n in ("u", "v", "u_x", "v_x")], -1),
        )
        return [pde, edge] if self.hard else [pde, Term("ic", "initial", ("u", "v"), self.initial_residual), edge]

    def ansatz(self, x, ops):
        """``(u, v) = (2 sech x, 0) + t N`` (``sech = sqrt(1 - tanh²)``): the initial condition by construction."""
        t, xs = ops.col(x, 0), ops.col(x, 1)
        th = ops.tanh(xs)
        return ops.cat([ops.sqrt(1.0 - th * th) * 2.0, xs * 0.0]), t

    def initial_residual(self, d: Derivatives, x: Tensor) -> Tensor:
        sech = 2 / torch.cosh(self.col(x, "x"))
        return torch.stack([d["u"] - sech, d["v"]], -1)

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        u, v = d["u"], d["v"]
        m = u * u + v * v
        return torch.stack([d["u_t"] + 0.5 * d["v_xx"] + m * v, d["v_t"] - 0.5 * d["u_xx"] - m * u], -1)

    def reference_params(self) -> dict:
        return {"modes": self.modes, "steps": self.steps}

    def solve_reference(self) -> tuple[np.ndarray, np.ndarray]:
        return solve_schrodinger(self.modes, self.steps)
