"""What a PDE is to pinnkit: named axes and fields, a domain, residual terms with named needs, a reference.

A PDE is an ``nn.Module`` (so an inverse problem can hold learnable coefficients). Each loss term is a
:class:`Term`: a region of the domain to sample, the derivative names it needs, and a residual
``(Derivatives, x) -> (...,)`` or ``(..., k)`` that is zero for the solution. Interior, initial and boundary
conditions (Dirichlet, Neumann, periodic, derivative initial conditions) are all terms, so the training module
never needs to know which PDE it trains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..derivatives import Derivatives
from ..domain import Box

Residual = Callable[[Derivatives, Tensor], Tensor]
#: regions whose points are fixed, not sampled: a PDE's own ``data_points()``, and measured ``observed`` data
FIXED_REGIONS = ("data", "observed")
#: the PDEs that implement ansatz()
HARD_PDES = (
    "heat, poisson, membrane, burgers, helmholtz, wave, klein_gordon, advection, kdv, schrodinger, poisson_hd, plate, "
    "hjb, fokker_planck, allen_cahn_hd, kuramoto_sivashinsky"
)


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


@dataclass(frozen=True)
class Table:
    """Tabulated reference values of one field (a benchmark's published table): ``x (n, d)``, ``values (n,)``."""

    x: Tensor
    field: str
    values: Tensor


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
    validation_points: int = 0  # > 0: validate on this many held-out random points instead of the grid

    def __init__(self, domain: Box, grid_sizes: Mapping[str, int], hard: bool = False) -> None:
        super().__init__()
        if hard and type(self).ansatz is PDE.ansatz:
            raise ValueError(f"{self.name} has no hard-constraint ansatz; hard=true works for {HARD_PDES}")
        self.hard = bool(hard)
        if domain.axes != self.axes:
            raise ValueError(f"{self.name}: the domain's axes {domain.axes} differ from the PDE's {self.axes}")
        # the grid spans every axis, unless the PDE's own grid() is a plane through its domain (high dimensions)
        missing = set(self.axes) - set(grid_sizes) if type(self).grid is PDE.grid else set(grid_sizes) - set(self.axes)
        if missing or not grid_sizes or any(int(v) < 2 for v in grid_sizes.values()):
            raise ValueError(f"{self.name}: grid_sizes needs an int >= 2 for each axis {self.axes}, got {grid_sizes}")
        self.domain = domain
        self.grid_sizes = {a: int(grid_sizes[a]) for a in self.axes if a in grid_sizes}

    def terms(self) -> list[Term]:
        raise NotImplementedError

    def learn_coefficients(self, learn: Mapping[str, float] | None, fixed: Mapping[str, float]) -> None:
        """Make coefficients learnable (an inverse problem): ``learn`` maps names of ``fixed`` (the coefficients the
        PDE has, with their given values) to initial values; each is trained as its log, so it stays positive."""
        self.fixed_coefficients, self.learned_names = dict(fixed), tuple(learn or {})
        for name, init in (learn or {}).items():
            if name not in fixed:
                raise ValueError(f"{self.name}: pde.learn names {name!r}; the coefficients are {sorted(fixed)}")
            if not float(init) > 0:
                raise ValueError(f"{self.name}: pde.learn.{name} is the initial value, it must be > 0, got {init}")
            self.register_parameter(f"log_{name}", nn.Parameter(torch.tensor(math.log(float(init)))))

    def coefficient(self, name: str) -> Tensor | float:
        """A coefficient's value: ``exp`` of its trained log when learned, else the given number."""
        if name in getattr(self, "learned_names", ()):
            return torch.exp(getattr(self, f"log_{name}"))
        return self.fixed_coefficients[name]

    def learned(self) -> dict[str, float]:
        """The learned coefficients and, as ``<name>_true``, the values given in the config (logged as ``pde/``)."""
        names = getattr(self, "learned_names", ())
        return {
            **{n: float(torch.as_tensor(self.coefficient(n)).detach()) for n in names},
            **{f"{n}_true": self.fixed_coefficients[n] for n in names},
        }

    def loss_terms(self) -> list[Term]:
        """What training fits: :meth:`terms`, plus the ``observed`` term once :meth:`observe` gave it data."""
        terms = self.terms()
        if getattr(self, "observed_fields", None):
            terms.append(Term("observed", "observed", self.observed_fields, self._observed_residual))
        return terms

    def observe(self, train, held_out=None) -> None:
        """Fit measured data too (:class:`~pinnkit.observations.Observations`): ``train`` feeds the ``observed`` term,
        ``held_out`` the validation metric ``val/data_rel``. Buffers, not state: a checkpoint does not carry them."""
        self.observed_fields = tuple(train.fields)
        self.register_buffer("observed_x", train.x, persistent=False)
        self.register_buffer("observed_values", train.values, persistent=False)
        self.register_buffer("held_out_x", None if held_out is None else held_out.x, persistent=False)
        self.register_buffer("held_out_values", None if held_out is None else held_out.values, persistent=False)

    def _observed_residual(self, d: Derivatives, x: Tensor) -> Tensor:
        pred = torch.stack([d[f] for f in self.observed_fields], -1)
        return pred - self.observed_values.to(pred.dtype)

    def fixed_points(self, region: str) -> Tensor:
        """The points of a region in :data:`FIXED_REGIONS`."""
        if region == "observed":
            return self.observed_x
        data = getattr(self, "data_points", None)
        if not callable(data):
            raise ValueError(f"a term of {self.name} uses region 'data' but {self.name} has no data_points()")
        return data()

    def exact(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{self.name} has no reference solution")

    def tables(self) -> dict[str, Table]:
        """Tabulated reference values by name, each scored in validation as ``val/<name>_rel`` (none by default)."""
        return {}

    @property
    def has_reference(self) -> bool:
        """Whether :meth:`exact` gives a reference: without one, validation scores the held-out residuals."""
        return type(self).exact is not PDE.exact

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
