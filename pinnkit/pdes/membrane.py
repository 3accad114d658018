"""A loaded membrane: -Δu = f (a constant load) with u = 0 on the boundary, a PDE without a reference solution.

On the L-shaped domain ``[-1, 1]² \\ (0, 1]²`` (the default) the solution has a singular gradient at the
re-entrant corner and no closed form: the kind of problem a researcher brings, and pinnkit trains it with no
``exact()`` (validation reports the held-out residual losses ``val/loss_<term>`` and their sum ``val/loss``).
On the unit square it has no closed form either; on the unit disk it is ``u = f (1 - r²) / 4``, which this class
deliberately does not know, so the disk checks a run without a reference against a known answer (the tests do).

It is :class:`~pinnkit.pdes.poisson.Poisson` with another source and zero boundary data, and without its
manufactured reference; ``hard=True`` (the default) gives ``u = φ N`` with Poisson's boundary functions φ.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import PDE
from .poisson import Poisson, vanishing


class Membrane(Poisson):
    name = "membrane"
    exact = PDE.exact  # no reference: has_reference is False, validation scores the held-out residuals

    def __init__(self, n: int = 101, geometry: str = "lshape", load: float = 1.0, hard: bool = True) -> None:
        self.load = float(load)
        super().__init__(n, geometry, hard)

    def source(self, x: Tensor) -> Tensor:
        """The load ``f (...,)``."""
        return torch.full_like(x[..., 0], self.load)

    def boundary_value(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x[..., 0])

    def ansatz(self, x, ops):
        phi = vanishing(self.geometry, x, ops)
        return phi * 0.0, phi
