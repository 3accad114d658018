"""Base class of 1-D periodic PDEs whose reference is a cached spectral solution (Allen-Cahn, KdV)."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ..references import SpectralSolution, cached
from .base import PDE


class SpectralReferencePDE(PDE):
    """``exact`` evaluates a spectral solution on x ∈ [lo, hi), computed once by :meth:`solve_reference` and cached
    on disk under :meth:`reference_params`. Subclasses implement both."""

    closed_form = False
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
            self._reference = SpectralSolution(data["t"], data["spectra"], self.domain.lower[i], self.domain.upper[i])
        return self._reference

    def exact(self, x: Tensor) -> Tensor:
        return self.reference()(x).unsqueeze(-1)
