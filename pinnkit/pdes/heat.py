"""Heat equation: u_t = κ u_xx on x ∈ [-1, 1], t ∈ [0, 1]; u(0, x) = sin(πx), u(t, ±1) = 0.
With ``hard=True`` both conditions hold by construction (``u = sin(πx) + t (1 - x²) N``) and only the PDE term
remains.

Exact solution: u = exp(-κ π² t) sin(π x).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..derivatives.names import combination
from ..domain import Box
from .base import PDE, Term


class Heat(PDE):
    name = "heat"
    axes = ("t", "x")
    fields = ("u",)

    def __init__(
        self, kappa: float = 0.1, nt: int = 101, nx: int = 201, hard: bool = False,
        learn: Mapping[str, float] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(Box({"t": (0.0, 1.0), "x": (-1.0, 1.0)}), {"t": nt, "x": nx}, hard)
        if kappa <= 0:
            raise ValueError(f"heat: kappa must be > 0, got {kappa}")
        self.kappa = kappa
        self.learn_coefficients(learn, {"kappa": kappa})  # learn={kappa: 0.5}: κ from data, kappa the true value

    @property
    def operator(self) -> str:
        """The need ``u_t - κ u_xx``: one ``taylor`` channel (with u and u_x: 3 channels instead of 4)."""
        return combination("u", {"t": 1.0, "xx": -self.kappa})

    def terms(self) -> list[Term]:
        needs = ("u_t", "u_xx") if self.learned_names else (self.operator,)  # a learned κ multiplies its part
        pde = Term("pde", "interior", needs, self.residual)
        if self.hard:
            return [pde]
        return [
            pde,
            Term("ic", "initial", ("u",), lambda d, x: d["u"] - torch.sin(math.pi * self.col(x, "x"))),
            Term("bc", "boundary", ("u",), lambda d, x: d["u"]),
        ]

    def ansatz(self, x, ops):
        """``u = sin(πx) + t (1 - x²) N``: the initial condition at t = 0 and u = 0 at x = ±1, exactly."""
        t, xs = ops.col(x, 0), ops.col(x, 1)
        return ops.sin(xs * math.pi), t * (1.0 - xs * xs)

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        if self.learned_names:
            return d["u_t"] - self.coefficient("kappa") * d["u_xx"]
        return d[self.operator]

    def exact(self, x: Tensor) -> Tensor:
        t, xs = self.col(x, "t"), self.col(x, "x")
        return (torch.exp(-self.kappa * math.pi**2 * t) * torch.sin(math.pi * xs)).unsqueeze(-1)
