"""Base class of 1-D periodic PDEs whose reference is a cached spectral solution (Allen-Cahn, KdV, Schrödinger)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..references import SpectralSolution, cached
from .base import PDE


class SpectralReferencePDE(PDE):
    """``exact`` evaluates a spectral solution on x ∈ [lo, hi), computed once by :meth:`solve_reference` and cached
    on disk under :meth:`reference_params`. Subclasses implement both."""

    closed_form = False
    real_field = True  # False: a complex field h, whose real and imaginary parts are the PDE's two fields
    _reference: SpectralSolution | None = None

    def reference_params(self) -> dict:
        raise NotImplementedError

    def solve_reference(self) -> tuple[np.ndarray, np.ndarray]:
        """``(t (nt,), spectra (nt, modes))``."""
        raise NotImplementedError

    def reference(self) -> SpectralSolution:
        if self._reference is None:

            def compute() -> dict[str, np.ndarray]:
                t, spectra = self.solve_reference()
                return {"t": t, "spectra": spectra}

            data = cached(self.name, self.reference_params(), compute)
            i = self.axes.index("x")
            self._reference = SpectralSolution(data["t"], data["spectra"], self.domain.lower[i], self.domain.upper[i],
                                                self.real_field)  # fmt: skip
        return self._reference

    def exact(self, x: Tensor) -> Tensor:
        h = self.reference()(x)
        return h.unsqueeze(-1) if self.real_field else torch.stack([h.real, h.imag], -1)
