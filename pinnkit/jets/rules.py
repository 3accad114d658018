"""Propagation rules: how a :class:`~pinnkit.jets.jet.Jet` goes through a module.

:func:`propagate` uses a module's own ``forward_jet(jet) -> Jet`` (every network in :mod:`pinnkit.nets`) or a rule
from :data:`RULES` (``nn.Linear``, ``nn.Sequential``, ``nn.Identity`` and the activations ``nn.Tanh``,
``nn.Sigmoid``, ``nn.SiLU``, exact ``nn.GELU``, ``nn.Softplus``); anything else raises
:class:`~pinnkit.errors.UnsupportedModule` naming the module and the backends that take any callable.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..errors import UnsupportedModule
from . import activations as act
from .jet import Jet


def generic_backends() -> str:
    """The backends that differentiate any callable, for error messages (the registry imports this package, so
    it is read when an error is worded, not at import)."""
    from ..derivatives.registry import generic_names

    return ", ".join(generic_names())


def _gelu(m: nn.GELU, j: Jet) -> Jet:
    if m.approximate != "none":
        raise UnsupportedModule(f"taylor supports the exact GELU only, not approximate={m.approximate!r}")
    return j.map(act.gelu)


def _sequential(m: nn.Sequential, j: Jet) -> Jet:
    for child in m:
        j = propagate(child, j)
    return j


RULES: dict[type[nn.Module], Callable[[nn.Module, Jet], Jet]] = {
    nn.Linear: lambda m, j: j.linear(m.weight, m.bias),
    nn.Sequential: _sequential,
    nn.Identity: lambda m, j: j,
    nn.Tanh: lambda m, j: j.map(act.tanh),
    nn.Sigmoid: lambda m, j: j.map(act.sigmoid),
    nn.SiLU: lambda m, j: j.map(act.silu),
    nn.GELU: _gelu,
    nn.Softplus: lambda m, j: j.map(act.softplus(m.beta, m.threshold)),
}


def propagate(module: nn.Module, jet: Jet) -> Jet:
    """Push ``jet`` through ``module``: its own ``forward_jet`` if it has one, else a rule from ``RULES``."""
    own = getattr(module, "forward_jet", None)
    if callable(own):
        return own(jet)
    rule = RULES.get(type(module))
    if rule is None:
        known = sorted(t.__name__ for t in RULES)
        raise UnsupportedModule(
            f"backend 'taylor' has no rule for {type(module).__name__}: it propagates through {known} and modules "
            f"with a forward_jet(jet) method (all of pinnkit.nets). Write forward_jet for it, or use one of "
            f"{generic_backends()}, which differentiate any pointwise callable"
        )
    return rule(module, jet)
