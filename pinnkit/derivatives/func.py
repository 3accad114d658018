"""Backends built on ``torch.func``: ``vmap`` over points of per-point Jacobians.

- :class:`Func`: ``vmap(jacrev(f))`` for first order, ``jacfwd`` nested on top for higher orders
  (forward-over-reverse, as ``torch.func.hessian`` does).
- :class:`FuncFwd`: ``jacfwd`` at every order.

``f`` is called on a single point ``(d,)`` under ``vmap``; modules and plain functions that broadcast over
leading dims work as they are. Every order's tensor comes from one nested evaluation (``has_aux``).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor
from torch.func import jacfwd, jacrev, vmap

from .assemble import tensors_to_result
from .backend import Backend, PointwiseFn, as_2d
from .names import Request
from .paths import NoPathError


class Func(Backend):
    """``torch.func.vmap(jacrev)``, with ``jacfwd`` on top for orders >= 2 (any order)."""

    name = "func"
    first: Callable = staticmethod(jacrev)

    def compute(self, f: PointwiseFn, x: Tensor, req: Request):
        sel = None if req.fields_used is None else list(req.fields_used)

        def level0(z: Tensor):  # z (d,) -> (selected values (k,), aux (all values (m,),))
            y = as_2d(f(z), z)
            return (y if sel is None else y[sel]), (y,)

        fn = level0
        for k in range(req.order):
            fn = self._nest(fn, self.first if k == 0 else jacfwd)
        try:
            _, aux = vmap(fn)(x)
        except RuntimeError as err:
            if "data pointer" in str(err):  # f left torch (numpy, .item()): under vmap it has no data to read
                raise NoPathError(
                    f"backend {self.name!r}: the function reads its input's data outside torch (numpy, .item(), "
                    "data_ptr), so it cannot be differentiated: write it in torch operations on x"
                ) from err
            raise
        return tensors_to_result(list(aux), req)

    @staticmethod
    def _nest(fn, transform):
        def nested(z: Tensor):
            out, aux = transform(fn, has_aux=True)(z)
            return out, (*aux, out)

        return nested


class FuncFwd(Func):
    """``torch.func.vmap(jacfwd)`` at every order (any order)."""

    name = "func_fwd"
    first = staticmethod(jacfwd)
