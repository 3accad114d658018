"""Allen-Cahn: u_t - ε u_xx + 5u³ - 5u = 0 (ε = 1e-4) on x ∈ [-1, 1] periodic, t ∈ [0, 1], u0 = x² cos(πx);
evaluation grid 201 × 512 (the benchmark of Raissi et al. 2019 and jaxpi).

Reference computed by pinnkit: Fourier pseudo-spectral ETDRK4 with 512 modes and dt = 2.5e-4 (changes below 1e-8
when dt halves and 1.4e-6 when the modes double; the energy decays, tests), cached on disk
(:mod:`pinnkit.references`), evaluated anywhere by Fourier interpolation in x.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..derivatives.names import combination
from ..domain import Box
from ..references import etdrk4
from .base import Term
from .spectral_pde import SpectralReferencePDE


def solve_allen_cahn(eps: float, modes: int = 512, dt: float = 2.5e-4, t_end: float = 1.0, saves: int = 200):
    """``(t (saves+1,), spectra (saves+1, modes))`` of the Allen-Cahn solution on [-1, 1)."""
    x = -1 + 2 * np.arange(modes) / modes
    k = np.pi * np.fft.fftfreq(modes, 1.0 / modes)
    steps = round(t_end / dt)
    every = steps // saves
    spectra = etdrk4(x**2 * np.cos(np.pi * x), -eps * k**2, lambda u: 5 * u - 5 * u**3, dt, steps, every)
    return np.linspace(0, t_end, saves + 1), spectra


class AllenCahn(SpectralReferencePDE):
    name = "allen_cahn"
    axes = ("t", "x")
    fields = ("u",)

    def __init__(self, eps: float = 1e-4, nt: int = 201, nx: int = 512, modes: int = 512, dt: float = 2.5e-4) -> None:
        super().__init__(Box({"t": (0.0, 1.0), "x": (-1.0, 1.0)}), {"t": nt, "x": nx})
        self.eps, self.modes, self.dt = eps, modes, dt

    def terms(self) -> list[Term]:
        return [
            Term("pde", "interior", ("u", self.operator), self.residual),
            Term("ic", "initial", ("u",), lambda d, x: d["u"] - self.initial(x)),
            Term("periodic", "periodic:x", ("u", "u_x"),
                 lambda d, x: torch.stack([d["u"][..., 0] - d["u"][..., 1], d["u_x"][..., 0] - d["u_x"][..., 1]], -1)),
        ]  # fmt: skip

    def initial(self, x: Tensor) -> Tensor:
        xs = self.col(x, "x")
        return xs**2 * torch.cos(math.pi * xs)

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        u = d["u"]
        return d[self.operator] + 5 * u**3 - 5 * u

    @property
    def operator(self) -> str:
        """The need ``u_t - ε u_xx``: one ``taylor`` channel."""
        return combination("u", {"t": 1.0, "xx": -self.eps})

    def reference_params(self) -> dict:
        return {"eps": self.eps, "modes": self.modes, "dt": self.dt}

    def solve_reference(self) -> tuple[np.ndarray, np.ndarray]:
        return solve_allen_cahn(self.eps, self.modes, self.dt)
