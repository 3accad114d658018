"""Backends built on ``torch.autograd.functional.jacobian``.

- :class:`Functional`: the *sum-over-batch trick*. For a pointwise ``f``, the Jacobian of
  ``x -> f(x).sum(0)`` (shape ``(m, N, d)``) holds every point's own Jacobian, so one vectorized
  ``jacobian`` call per order gives them all in O(N) memory; nested for higher orders.
- :class:`Dense`: the naive method, the full ``(N, m, N, d)`` Jacobian (and, per field, the full
  ``(N, d, N, d)`` Hessian of the batch-summed output from ``functional.hessian``) followed by the diagonal
  over points. Its memory and time are quadratic in N, so it refuses above ``max_points``; it is kept as an
  independent reference.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.autograd.functional import hessian, jacobian

from ..errors import UnsupportedRequest
from .assemble import row_plan, rows_to_result, tensors_to_result
from .backend import Backend, PointwiseFn, as_2d
from .names import Request


def _jac(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    return jacobian(fn, x, create_graph=True, vectorize=True)


def _hess(g: Callable[[Tensor], Tensor], i: int, x: Tensor) -> Tensor:
    """Full Hessian ``(N, d, N, d)`` of ``sum_n g(x)[n, i]``."""
    return hessian(lambda z: g(z)[:, i].sum(), x, create_graph=True, vectorize=True)


class Functional(Backend):
    """``functional.jacobian`` of the batch-summed output, permuted back to ``(N, ...)`` (any order)."""

    name = "functional"

    def compute(self, f: PointwiseFn, x: Tensor, req: Request):
        u = as_2d(f(x), x)
        grads: dict[tuple[int, tuple[int, ...]], Tensor] = {}
        level_fn: Callable[[Tensor], Tensor] | None = None
        index: dict = {}
        for rows in row_plan(req, u.shape[-1]):
            level_fn = self._next_level(f, level_fn, rows, index)
            jl = _jac(level_fn, x)  # (p, N, d): row j is ∇ of rows[j] at every point
            index = {r: j for j, r in enumerate(rows)}
            grads.update({r: jl[j] for j, r in enumerate(rows)})
        return rows_to_result(u, req, grads)

    @staticmethod
    def _next_level(f, prev_fn, rows, index) -> Callable[[Tensor], Tensor]:
        """``x -> (p,)``: the batch sums of this level's rows, whose Jacobian is the next level."""
        if prev_fn is None:
            cols = [fi for fi, _ in rows]
            return lambda z: as_2d(f(z), z)[:, cols].sum(0)
        parents = [index[(fi, pre[:-1])] for fi, pre in rows]
        axes = [pre[-1] for _, pre in rows]
        return lambda z: _jac(prev_fn, z)[parents, :, axes].sum(1)


class Dense(Backend):
    """Full Jacobian/Hessian over all points, then the diagonal: O(N²) memory, order <= 2, size-guarded."""

    name = "dense"
    role = "reference"
    max_order = 2

    def __init__(self, max_points: int = 1024, compile: bool = False) -> None:
        super().__init__(compile)
        if max_points < 1:
            raise ValueError(f"max_points must be >= 1, got {max_points}")
        self.max_points = max_points

    def compute(self, f: PointwiseFn, x: Tensor, req: Request):
        n, d = x.shape
        if n > self.max_points:
            need = n * n * d**req.order * x.element_size()
            raise UnsupportedRequest(
                f"backend 'dense' builds the full Jacobian over all points, O(N²) memory and time: N={n} "
                f"points would need about {need / 2**30:.2f} GiB per output field, above its max_points="
                f"{self.max_points}. Use 'autograd', 'func' or 'taylor' (same values, linear in N), or raise "
                "derivative.max_points"
            )
        u = as_2d(f(x), x)
        sel = req.fields_used

        def g(z: Tensor) -> Tensor:  # (N, d) -> (N, k)
            y = as_2d(f(z), z)
            return y if sel is None else y[:, list(sel)]

        ys = [u, torch.diagonal(_jac(g, x), dim1=0, dim2=2).permute(2, 0, 1)]  # (N, k, N, d) -> (N, k, d)
        if req.order >= 2:  # per field: (N, d, N, d) -> diagonal (N, d, d); stacked (N, k, d, d)
            k = u.shape[-1] if sel is None else len(sel)
            ys.append(
                torch.stack([torch.diagonal(_hess(g, i, x), dim1=0, dim2=2).permute(2, 0, 1) for i in range(k)], 1)
            )
        return tensors_to_result(ys, req)

    def __repr__(self) -> str:
        return f"Dense(max_points={self.max_points})"
