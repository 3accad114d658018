"""Hard constraints: ``u(x) = b(x) + φ(x) ⊙ N(x)``, so initial and boundary conditions hold by construction.

A PDE that supports them (``hard=true`` in its config) implements ``ansatz(x, ops) -> (b, φ)``: ``b (..., m)`` meets the
conditions, ``φ (..., 1 or m)`` vanishes exactly where they are imposed and is positive elsewhere (for a domain given by
a signed distance function, a smooth distance-like function such as ``(r² - |x - c|²)/(2r)`` for a disk). ``ansatz`` is
written once with the operators ``+ - *`` and the functions in ``ops``, so the same code runs on tensors (every backend)
and on Taylor jets (the ``taylor`` backend): ``ops.col(x, i)`` is column ``i`` as ``(..., 1)``, ``ops.cat([a, b])``
joins fields, ``ops.sum(a)`` adds the columns (``(..., 1)``), ``ops.linear(a, W, b=None)`` is ``a W^T + b`` with
constant ``W (o, w)`` and ``b (o,)`` (``(..., o)``, e.g. the phases of a Fourier series),
``ops.sin``/``ops.cos``/``ops.exp``/``ops.log``/``ops.sqrt``/``ops.tanh`` act elementwise.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import torch
from torch import Tensor, nn

from ..jets import Jet, propagate
from ..jets import activations as act

TENSOR_OPS = SimpleNamespace(
    col=lambda x, i: x[..., i : i + 1],
    cat=lambda parts: torch.cat(parts, -1),
    sin=torch.sin,
    cos=torch.cos,
    exp=torch.exp,
    log=torch.log,
    sqrt=torch.sqrt,
    tanh=torch.tanh,
    sum=lambda x: x.sum(-1, keepdim=True),
    linear=torch.nn.functional.linear,
)
JET_OPS = SimpleNamespace(
    col=lambda j, i: j[[i]],
    cat=Jet.cat,
    sin=lambda j: j.map(act.sin),
    cos=lambda j: j.map(act.cos),
    exp=lambda j: j.map(act.exp),
    log=lambda j: j.map(act.log),
    sqrt=lambda j: j.map(act.sqrt),
    tanh=lambda j: j.map(act.tanh),
    sum=lambda j: j.linear(j.value.new_ones(1, j.value.shape[-1])),
    linear=lambda j, w, b=None: j.linear(w, b),
)

Ansatz = Callable[[Tensor | Jet, SimpleNamespace], tuple[Tensor | Jet, Tensor | Jet]]


class Constrained(nn.Module):
    """``net`` wrapped so its output meets hard constraints: ``(..., d) -> b + φ ⊙ net(x)  (..., m)``."""

    def __init__(self, net: nn.Module, ansatz: Ansatz) -> None:
        super().__init__()
        self.net = net
        self.ansatz = ansatz

    def forward(self, x: Tensor) -> Tensor:
        b, phi = self.ansatz(x, TENSOR_OPS)
        return b + phi * self.net(x)

    def forward_jet(self, j: Jet) -> Jet:
        b, phi = self.ansatz(j, JET_OPS)
        return propagate(self.net, j) * phi + b
