"""Pointwise networks: ``(..., d) -> (..., m)``.

Every module here acts on the last axis only, so the derivative backends' pointwise contract holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn

from .derivatives import activations as act
from .derivatives.jet import Jet
from .derivatives.taylor import propagate


class Sin(nn.Module):
    """``sin(x)``: the SIREN-style activation, popular for oscillatory solutions."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(x)

    def forward_jet(self, j: Jet) -> Jet:
        return j.map(act.sin)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "sin": Sin,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "sigmoid": nn.Sigmoid,
}


def make_activation(name: str) -> nn.Module:
    """The activation module called ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; valid: {sorted(ACTIVATIONS)}") from None


class Normalize(nn.Module):
    """Affine map of the domain box ``[lower, upper]`` onto ``[-1, 1]^d``: ``(..., d) -> (..., d)``."""

    def __init__(self, lower: Sequence[float], upper: Sequence[float]) -> None:
        super().__init__()
        lo = torch.as_tensor(lower, dtype=torch.float64)
        hi = torch.as_tensor(upper, dtype=torch.float64)
        if lo.shape != hi.shape or lo.dim() != 1 or not bool((hi > lo).all()):
            raise ValueError(f"Normalize needs lower < upper per axis, got lower={list(lower)}, upper={list(upper)}")
        self.register_buffer("scale", (2.0 / (hi - lo)).float())
        self.register_buffer("shift", (-(hi + lo) / (hi - lo)).float())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.shift

    def forward_jet(self, j: Jet) -> Jet:
        return j.affine(self.scale, self.shift)


class MLP(nn.Module):
    """Fully connected network: ``depth`` hidden layers of ``width`` units, ``(..., in_dim) -> (..., out_dim)``.

    With ``normalize`` and ``lower``/``upper`` (the domain box) the input is first mapped onto ``[-1, 1]^d``.
    Weights use Glorot-normal initialisation and zero biases, the PINN default.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        width: int = 64,
        depth: int = 4,
        activation: str = "tanh",
        normalize: bool = True,
        lower: Sequence[float] | None = None,
        upper: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        for key, val in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
            if int(val) < 1:
                raise ValueError(f"MLP {key} must be >= 1, got {val}")
        use = normalize and lower is not None and upper is not None
        self.normalize = Normalize(lower, upper) if use else None
        sizes = [in_dim, *[width] * depth, out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
        self.activation = make_activation(activation)
        for lin in self.linears:
            nn.init.xavier_normal_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.normalize(x) if self.normalize is not None else x
        for lin in self.linears[:-1]:
            h = self.activation(lin(h))
        return self.linears[-1](h)

    def forward_jet(self, j: Jet) -> Jet:
        """The same network on a Taylor jet ``(C, N, d) -> (C, N, m)`` (see :mod:`pinnkit.derivatives.jet`)."""
        if self.normalize is not None:
            j = self.normalize.forward_jet(j)
        for lin in self.linears[:-1]:
            j = propagate(self.activation, j.linear(lin.weight, lin.bias))
        return j.linear(self.linears[-1].weight, self.linears[-1].bias)
