"""Fully connected PINN networks: the plain MLP and the modified MLP (gated, Wang et al. 2021).

Both take the PDE's sizes and domain box from the training config (``in_dim``, ``out_dim``, ``lower``, ``upper``,
``axes``), an input pipeline (:class:`~pinnkit.nets.layers.InputMap`: normalisation, periodic and Fourier
embeddings) and optional random weight factorization (``rwf``). ``(..., in_dim) -> (..., out_dim)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

from torch import Tensor, nn

from ..jets import Jet, propagate
from .layers import FactorizedLinear, InputMap, make_activation


def _linear(a: int, b: int, rwf: bool) -> nn.Module:
    if rwf:
        return FactorizedLinear(a, b)
    lin = nn.Linear(a, b)
    nn.init.xavier_normal_(lin.weight)  # Glorot-normal weights, zero biases: the PINN default
    nn.init.zeros_(lin.bias)
    return lin


def _periodic_indices(periodic: Mapping[str, float] | None, axes: Sequence[str] | None) -> dict[int, float]:
    if not periodic:
        return {}
    if axes is None:
        raise ValueError("periodic axes are given by name: the network needs the PDE's axes")
    unknown = set(periodic) - set(axes)
    if unknown:
        raise ValueError(f"periodic names unknown axes {sorted(unknown)}; the axes are {list(axes)}")
    return {list(axes).index(a): float(p) for a, p in periodic.items()}


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units with one activation, then a linear output layer.

    ``periodic`` maps axis names to periods (e.g. ``{x: 2.0}``); ``fourier_features``/``fourier_scale`` add random
    Fourier features; ``rwf`` factorizes every weight matrix.
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
        axes: Sequence[str] | None = None,
        periodic: Mapping[str, float] | None = None,
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
        rwf: bool = False,
    ) -> None:
        super().__init__()
        for key, val in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
            if int(val) < 1:
                raise ValueError(f"{type(self).__name__} {key} must be >= 1, got {val}")
        self.inputs = InputMap(
            in_dim, lower, upper, normalize, _periodic_indices(periodic, axes), fourier_features, fourier_scale
        )
        self.rwf = bool(rwf)
        sizes = [self.inputs.out_dim, *[width] * depth, out_dim]
        self.linears = nn.ModuleList(_linear(a, b, rwf) for a, b in pairwise(sizes))
        self.activation = make_activation(activation)

    def forward(self, x: Tensor) -> Tensor:
        h = self.inputs(x)
        *hidden, last = self.linears  # (iterating; slicing a ModuleList builds a new module every call)
        for lin in hidden:
            h = self.activation(lin(h))
        return last(h)

    def forward_jet(self, j: Jet) -> Jet:
        """The same network on a Taylor jet (see :mod:`pinnkit.jets`)."""
        j = self.inputs.forward_jet(j)
        *hidden, last = self.linears
        for lin in hidden:
            j = propagate(self.activation, j.linear(lin.weight, lin.bias))
        return j.linear(last.weight, last.bias)


class ModifiedMLP(MLP):
    """The modified MLP of Wang, Teng & Perdikaris (2021): two encoders ``U = σ(W_u z)``, ``V = σ(W_v z)`` gate
    every hidden layer, ``h <- (1 - σ(W h)) ⊙ U + σ(W h) ⊙ V``; a standard choice of jaxpi's recipes."""

    def __init__(self, in_dim: int, out_dim: int, width: int = 64, depth: int = 4, *args, **kwargs) -> None:
        super().__init__(in_dim, out_dim, width, depth, *args, **kwargs)
        self.encode_u = _linear(self.inputs.out_dim, width, self.rwf)
        self.encode_v = _linear(self.inputs.out_dim, width, self.rwf)

    def forward(self, x: Tensor) -> Tensor:
        z = self.inputs(x)
        u, v = self.activation(self.encode_u(z)), self.activation(self.encode_v(z))
        h = z
        *hidden, last = self.linears
        for lin in hidden:
            g = self.activation(lin(h))
            h = u + g * (v - u)
        return last(h)

    def forward_jet(self, j: Jet) -> Jet:
        z = self.inputs.forward_jet(j)
        act = self.activation
        u = propagate(act, z.linear(self.encode_u.weight, self.encode_u.bias))
        v = propagate(act, z.linear(self.encode_v.weight, self.encode_v.bias))
        h = z
        *hidden, last = self.linears
        for lin in hidden:
            g = propagate(act, h.linear(lin.weight, lin.bias))
            h = u + g * (v - u)
        return h.linear(last.weight, last.bias)
