"""Building blocks of pointwise networks, each with its Taylor-jet rule (``forward_jet``).

Every module acts on the last axis only: ``(..., k) -> (..., k')``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from ..jets import Jet
from ..jets import activations as act


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


class FactorizedLinear(nn.Module):
    """Random weight factorization (Wang et al. 2023): ``W = diag(exp(s)) V``, trained in ``(s, V)``.

    Initialised from a Glorot-normal ``W`` with ``s ~ N(mean, std)`` and ``V = W / exp(s)``; ``(..., a) -> (..., b)``.
    """

    def __init__(self, a: int, b: int, mean: float = 1.0, std: float = 0.1) -> None:
        super().__init__()
        w = nn.init.xavier_normal_(torch.empty(b, a))
        s = mean + std * torch.randn(b)
        self.s = nn.Parameter(s)
        self.v = nn.Parameter(w / torch.exp(s)[:, None])
        self.bias = nn.Parameter(torch.zeros(b))

    @property
    def weight(self) -> Tensor:
        return torch.exp(self.s)[:, None] * self.v

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight, self.bias)

    def forward_jet(self, j: Jet) -> Jet:
        return j.linear(self.weight, self.bias)


class InputMap(nn.Module):
    """The input pipeline of pinnkit's networks: ``(..., d) -> (..., out_dim)``.

    1. ``periodic`` axes (index -> period P) become ``cos(2πx/P), sin(2πx/P)``: exact periodicity, so periodic
       boundary conditions hold by construction;
    2. the other axes are mapped onto ``[-1, 1]`` (``normalize`` with the domain box ``lower``/``upper``);
    3. with ``fourier_features = F > 0`` the result ``z`` becomes ``cos(Bz), sin(Bz)`` with a fixed Gaussian
       ``B (F, k)`` of standard deviation ``fourier_scale`` (random Fourier features against spectral bias).
    """

    def __init__(
        self,
        in_dim: int,
        lower: Sequence[float] | None = None,
        upper: Sequence[float] | None = None,
        normalize: bool = True,
        periodic: Mapping[int, float] | None = None,
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.periodic = {int(i): float(p) for i, p in (periodic or {}).items()}
        bad = [i for i, p in self.periodic.items() if not 0 <= i < in_dim or p <= 0]
        if bad:
            raise ValueError(f"periodic axes must be indices in [0, {in_dim}) with periods > 0, got {periodic}")
        self.plain = [i for i in range(in_dim) if i not in self.periodic]
        self.normalize = None
        if normalize and lower is not None and upper is not None and self.plain:
            self.normalize = Normalize([lower[i] for i in self.plain], [upper[i] for i in self.plain])
        k = len(self.plain) + 2 * len(self.periodic)
        if fourier_features < 0 or fourier_scale <= 0:
            raise ValueError(
                f"need fourier_features >= 0 and fourier_scale > 0, got {fourier_features}, {fourier_scale}"
            )
        self.fourier = None
        if fourier_features:
            self.register_buffer("fourier_b", fourier_scale * torch.randn(fourier_features, k))
            self.fourier = fourier_features
        self.out_dim = 2 * fourier_features if fourier_features else k
        self.identity = not self.periodic and self.normalize is None and not self.fourier  # x passes through

    def forward(self, x: Tensor) -> Tensor:
        if self.identity:
            return x
        parts = []
        if self.plain:
            h = x[..., self.plain] if self.periodic else x
            parts.append(self.normalize(h) if self.normalize is not None else h)
        for i, p in self.periodic.items():
            w = 2 * math.pi / p * x[..., i : i + 1]
            parts += [torch.cos(w), torch.sin(w)]
        z = torch.cat(parts, -1) if len(parts) > 1 else parts[0]
        if self.fourier:
            bz = z @ self.fourier_b.T
            z = torch.cat([torch.cos(bz), torch.sin(bz)], -1)
        return z

    def forward_jet(self, j: Jet) -> Jet:
        if self.identity:
            return j
        parts = []
        if self.plain:
            h = j[self.plain] if self.periodic else j
            parts.append(self.normalize.forward_jet(h) if self.normalize is not None else h)
        for i, p in self.periodic.items():
            w = j[[i]].affine(2 * math.pi / p)
            parts += [w.map(act.cos), w.map(act.sin)]
        z = Jet.cat(parts) if len(parts) > 1 else parts[0]
        if self.fourier:
            bz = z.linear(self.fourier_b)
            z = Jet.cat([bz.map(act.cos), bz.map(act.sin)])
        return z
