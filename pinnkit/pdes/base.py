"""What a PDE is to pinnkit: named axes and fields, a domain, residual terms with named needs, a reference.

A PDE is an ``nn.Module`` (so an inverse problem can hold learnable coefficients). Each loss term is a
:class:`Term`: a region of the domain to sample, the derivative names it needs, and a residual
``(Derivatives, x) -> (...,)`` or ``(..., k)`` that is zero for the solution. Interior, initial and boundary
conditions (Dirichlet, Neumann, periodic, derivative initial conditions) are all terms, so the training module
never needs to know which PDE it trains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..derivatives import Derivatives
from ..domain import Box

Residual = Callable[[Derivatives, Tensor], Tensor]
#: the PDEs that implement ansatz()
HARD_PDES = "heat, poisson, burgers, helmholtz, wave, klein_gordon, advection, kdv, schrodinger"


@dataclass(frozen=True)
class Term:
    """One loss term: mean square of ``residual`` over points of ``region``; logged as ``train/loss_<name>``."""

    name: str
    region: str
    needs: tuple[str, ...]
    residual: Residual
    weight: float = 1.0

    @property
    def points_key(self) -> str:
        """The ``data.points`` key giving this term's point count: the region without its axis (``periodic``)."""
        return self.region.split(":")[0]


class PDE(nn.Module):
    """Base class. Subclasses set ``name``, ``axes``, ``fields``, ``self.domain`` and implement :meth:`terms`;
    those that implement :meth:`ansatz` accept ``hard=True`` (initial/boundary conditions by construction).

    ``exact(x: (..., d)) -> (..., m)`` gives the reference solution (closed form or a cached numerical one);
    ``grid_sizes`` the evaluation grid, one size per axis.
    """

    name: ClassVar[str] = "pde"
    axes: ClassVar[tuple[str, ...]] = ()
    fields: ClassVar[tuple[str, ...]] = ("u",)
    closed_form: ClassVar[bool] = True  # False: exact() is a numerical reference, not differentiable by autograd

    def __init__(self, domain: Box, grid_sizes: Mapping[str, int], hard: bool = False) -> None:
        super().__init__()
        if hard and type(self).ansatz is PDE.ansatz:
            raise ValueError(f"{self.name} has no hard-constraint ansatz; hard=true works for {HARD_PDES}")
        self.hard = bool(hard)
        if domain.axes != self.axes:
            raise ValueError(f"{self.name}: the domain's axes {domain.axes} differ from the PDE's {self.axes}")
        missing = set(self.axes) - set(grid_sizes)
        if missing or any(int(v) < 2 for v in grid_sizes.values()):
            raise ValueError(f"{self.name}: grid_sizes needs an int >= 2 for each axis {self.axes}, got {grid_sizes}")
        self.domain = domain
        self.grid_sizes = {a: int(grid_sizes[a]) for a in self.axes}

    def terms(self) -> list[Term]:
        raise NotImplementedError

    def exact(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{self.name} has no reference solution")

    def ansatz(self, x, ops):
        """Hard constraints ``u = b + φ ⊙ N``: return ``(b, φ)`` at ``x``, built from ``+ - *`` and ``ops``
        (:mod:`pinnkit.nets.constrained`). With ``hard=true`` the terms it enforces leave :meth:`terms`."""
        raise NotImplementedError

    def grid(self) -> tuple[dict[str, Tensor], Tensor]:
        """The evaluation grid: 1-D coordinates per axis and the mesh ``(n_1, ..., n_d, d)`` (float64)."""
        coords = self.domain.grid(self.grid_sizes)
        mesh = torch.stack(torch.meshgrid(*coords.values(), indexing="ij"), dim=-1)
        return coords, mesh

    def col(self, x: Tensor, axis: str) -> Tensor:
        """The column of ``x (..., d)`` for the named axis: ``(...,)``."""
        return x[..., self.axes.index(axis)]
