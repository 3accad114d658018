"""Pluggable derivative backends: ``backend(f, x, needs) -> Derivatives``.

The contract is in :mod:`pinnkit.derivatives.backend`, the need names in :mod:`~pinnkit.derivatives.names`, the
result in :mod:`~pinnkit.derivatives.result`; one file per backend family. Backends are plain objects, chosen in
configs by ``_target_`` (``derivative=<name>``) or by name through :func:`get_backend` (the one registry:
:mod:`~pinnkit.derivatives.registry`).
"""

from ..errors import UnsupportedModule, UnsupportedRequest
from .auto import Auto
from .autograd import Autograd, BatchedGrad
from .backend import Backend, PointwiseFn
from .func import Func, FuncFwd
from .functional import Dense, Functional
from .names import Entry, Request, Sum, combination, laplacian, make_request, parse_entry
from .registry import BACKENDS, get_backend
from .result import Derivatives
from .taylor import Taylor

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
    "PointwiseFn",
    "Request",
    "Sum",
    "Taylor",
    "UnsupportedModule",
    "UnsupportedRequest",
    "combination",
    "get_backend",
    "laplacian",
    "make_request",
    "parse_entry",
]
