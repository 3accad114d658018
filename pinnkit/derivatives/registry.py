"""The one registry of derivative backends: name -> class, and the lists derived from it."""

from __future__ import annotations

from .auto import Auto
from .autograd import Autograd, BatchedGrad
from .backend import Backend
from .func import Func, FuncFwd
from .functional import Dense, Functional
from .taylor import Taylor

BACKENDS: dict[str, type[Backend]] = {
    cls.name: cls for cls in (Autograd, BatchedGrad, Functional, Func, FuncFwd, Dense, Taylor, Auto)
}


def get_backend(name: str, **kwargs) -> Backend:
    """The backend called ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown derivative backend {name!r}; valid: {sorted(BACKENDS)}") from None
    return cls(**kwargs)


def candidate_names() -> tuple[str, ...]:
    """The backends ``auto`` may pick from: every one that computes (not the O(N²) reference, not ``auto``)."""
    return tuple(n for n, cls in BACKENDS.items() if cls.role == "compute")


def generic_names() -> tuple[str, ...]:
    """The candidates that differentiate any pointwise callable to any order (what error messages suggest)."""
    return tuple(n for n in candidate_names() if BACKENDS[n].any_callable and BACKENDS[n].max_order is None)
