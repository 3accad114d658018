"""Viscous Burgers: u_t + u u_x = ν u_xx on x ∈ [-1, 1], t ∈ [0, 1]; u(0, x) = -sin(πx), u(t, ±1) = 0,
ν = 0.01/π (the PINN benchmark of Raissi et al. 2019; evaluation grid 100 × 256). With ``periodic=True`` the
boundary condition is periodicity in x instead, which has the same solution (u0 is odd and 2-periodic).

Reference by the Cole-Hopf transform, computed by pinnkit: u = -∫ sin(π(x-η)) f(x-η) G(η) dη / ∫ f(x-η) G(η) dη
with f(y) = exp(-cos(πy)/(2πν)), G the heat kernel of width sqrt(4νt), integrated by Gauss-Hermite quadrature in
log space (f spans e^{±1/(2πν)}). A finite quadrature sum of heat kernels is itself an exact Burgers solution, so
the reference satisfies the PDE to round-off at any point (tested) and converges in the number of nodes (tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from ..derivatives import Derivatives
from ..derivatives.names import combination
from ..domain import Box
from .base import PDE, Term


def cole_hopf(x: Tensor, nu: float, nodes: int = 200) -> Tensor:
    """Burgers' solution for u0 = -sin(πx) at points ``x (..., 2)`` over ``(t, x)``: ``(...,)``; differentiable.

    ``nodes`` Gauss-Hermite nodes, 2..300 (numpy's weights overflow beyond); 200 reproduce the maximum slope
    |u_x| = 152.00516 at t = 1.6037/π, x = 0 (Basdevant et al. 1986) to 8 digits.
    """
    if not 2 <= nodes <= 300:
        raise ValueError(f"cole_hopf needs 2 <= nodes <= 300, got {nodes}")
    z, w = np.polynomial.hermite.hermgauss(nodes)
    z = torch.as_tensor(z, dtype=x.dtype, device=x.device)
    log_w = torch.log(torch.as_tensor(w, dtype=x.dtype, device=x.device))
    t, xs = x[..., 0], x[..., 1]
    y = xs.unsqueeze(-1) - torch.sqrt(4 * nu * t).unsqueeze(-1) * z  # (..., nodes)
    weights = torch.softmax(log_w - torch.cos(math.pi * y) / (2 * math.pi * nu), dim=-1)
    return -(weights * torch.sin(math.pi * y)).sum(-1)


class Burgers(PDE):
    name = "burgers"
    axes = ("t", "x")
    fields = ("u",)

    def __init__(
        self,
        nu: float = 0.01 / math.pi,
        nt: int = 100,
        nx: int = 256,
        nodes: int = 200,
        hard: bool = False,
        periodic: bool = False,
        learn: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(Box({"t": (0.0, 1.0), "x": (-1.0, 1.0)}), {"t": nt, "x": nx}, hard)
        if nu <= 0:
            raise ValueError(f"burgers: nu must be > 0, got {nu}")
        self.nu_true, self.nodes, self.periodic = nu, nodes, bool(periodic)
        self.learn_coefficients(learn, {"nu": nu})  # learn={nu: 0.05}: ν from data, nu the true value

    @property
    def nu(self) -> Tensor | float:
        return self.nu_true

    @property
    def operator(self) -> str:
        """The need ``u_t - ν u_xx``: one ``taylor`` channel (with u and u_x: 3 channels instead of 4)."""
        return combination("u", {"t": 1.0, "xx": -self.nu_true})

    def terms(self) -> list[Term]:
        needs = ("u", "u_x", "u_t", "u_xx") if self.learned_names else ("u", "u_x", self.operator)
        pde = Term("pde", "interior", needs, self.residual)
        ic = Term("ic", "initial", ("u",), lambda d, x: d["u"] + torch.sin(math.pi * self.col(x, "x")))
        if self.periodic:  # the odd initial state keeps u(t, ±1) = 0 on the 2-periodic line: the same solution
            edge = Term("periodic", "periodic:x", ("u", "u_x"),
                        lambda d, x: torch.stack([d["u"][..., 0] - d["u"][..., 1],
                                                  d["u_x"][..., 0] - d["u_x"][..., 1]], -1))  # fmt: skip
            return [pde, edge] if self.hard else [pde, ic, edge]
        return [pde] if self.hard else [pde, ic, Term("bc", "boundary", ("u",), lambda d, x: d["u"])]

    def ansatz(self, x, ops):
        """``u = -sin(πx) + t (1 - x²) N``: initial and boundary conditions by construction; with ``periodic``,
        ``u = -sin(πx) + t N`` (the initial condition; a net periodic in x, ``model.periodic={x: 2}``, makes the
        periodicity exact too)."""
        t, xs = ops.col(x, 0), ops.col(x, 1)
        return -ops.sin(xs * math.pi), t if self.periodic else t * (1.0 - xs * xs)

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        if self.learned_names:  # a learned ν multiplies its part, outside a combination
            return d["u_t"] + d["u"] * d["u_x"] - self.coefficient("nu") * d["u_xx"]
        return d[self.operator] + d["u"] * d["u_x"]

    def exact(self, x: Tensor) -> Tensor:
        return cole_hopf(x, self.nu_true, self.nodes).unsqueeze(-1)


class BurgersInverse(Burgers):
    """Burgers with ν unknown: a learnable parameter (trained as log ν) fitted together with the network to
    ``n_obs`` noisy-free observations of the reference at fixed random points (the ``data`` term)."""

    name = "burgers_inverse"

    def __init__(self, nu: float = 0.01 / math.pi, nu_init: float = 0.05, n_obs: int = 2000, seed: int = 0, **kw):
        super().__init__(nu, **kw)
        if nu_init <= 0 or n_obs < 1:
            raise ValueError(f"burgers_inverse: need nu_init > 0 and n_obs >= 1, got {nu_init}, {n_obs}")
        self.log_nu = nn.Parameter(torch.tensor(math.log(nu_init)))
        gen = torch.Generator().manual_seed(seed)
        obs = self.domain.sample("interior", n_obs, gen, torch.float64)
        self.register_buffer("obs_x", obs)
        self.register_buffer("obs_u", cole_hopf(obs, nu, self.nodes))

    @property
    def nu(self) -> Tensor:
        return torch.exp(self.log_nu)

    def terms(self) -> list[Term]:
        return [
            Term("pde", "interior", ("u", "u_t", "u_x", "u_xx"), self.residual),
            Term("data", "data", ("u",), lambda d, x: d["u"] - self.obs_u.to(d.u.dtype)),
        ]

    def data_points(self) -> Tensor:
        """The fixed observation points ``(n_obs, 2)`` of the ``data`` term."""
        return self.obs_x

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        """ν is learned: the parts, not a fixed combination."""
        return d["u_t"] + d["u"] * d["u_x"] - self.nu * d["u_xx"]

    def learned(self) -> dict[str, float]:
        return {"nu": float(self.nu.detach()), "nu_true": self.nu_true}
