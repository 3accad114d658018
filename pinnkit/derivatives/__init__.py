"""Pluggable derivative backends: ``backend(f, x, needs) -> Derivatives``.

See :mod:`pinnkit.derivatives.base` for the contract. Backends are plain objects, chosen in configs by
``_target_`` (``derivative=<name>``) or by name through :func:`get_backend`.
"""

from .auto import Auto
from .autograd import Autograd, BatchedGrad
from .base import Backend, Derivatives, Entry, Request, UnsupportedRequest, make_request, parse_entry
from .func import Func, FuncFwd
from .functional import Dense, Functional
from .taylor import Taylor, UnsupportedModule

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


__all__ = [
    "BACKENDS",
    "Auto",
    "Autograd",
    "Backend",
    "BatchedGrad",
    "Dense",
    "Derivatives",
    "Entry",
    "Func",
    "FuncFwd",
    "Functional",
    "Request",
    "Taylor",
    "UnsupportedModule",
    "UnsupportedRequest",
    "get_backend",
    "make_request",
    "parse_entry",
]
