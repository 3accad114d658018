"""Reverse-mode backends built on ``torch.autograd.grad``.

- :class:`Autograd`: the classic PINN way, one ``grad`` call per needed row, nested for higher orders
  (``u_xx`` = grad of ``u_x``). Only the rows a request needs are differentiated.
- :class:`BatchedGrad`: one ``grad`` call per order with ``is_grads_batched=True`` and one-hot
  ``grad_outputs`` (vmapped vector-Jacobian products). This is the correct form of "one grad call for all
  outputs": ``grad(u, x, torch.ones_like(u))`` instead returns the *sum* of the Jacobian's rows.

Both rely on ``f`` being pointwise: the gradient of ``u[:, i].sum()`` w.r.t. ``x`` then has row ``k`` equal
to ``∂u_i(x_k)/∂x_k``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .assemble import row_plan, rows_to_result
from .backend import Backend, PointwiseFn, as_2d
from .names import Request


def grad_rows(out: Tensor, x: Tensor, grad_outputs: Tensor | None = None, batched: bool = False) -> Tensor:
    """``∇_x`` of ``out`` with the graph kept; zeros when ``out`` does not depend on ``x``.

    ``out (N,)`` -> ``(N, d)``; with ``batched``, ``grad_outputs (p, *out.shape)`` -> ``(p, N, d)``.
    """
    shape = (grad_outputs.shape[0], *x.shape) if batched else x.shape
    if not out.requires_grad:
        return x.new_zeros(shape)
    if grad_outputs is None:
        out = out.sum()
    (g,) = torch.autograd.grad(
        out, x, grad_outputs=grad_outputs, create_graph=True, allow_unused=True, is_grads_batched=batched
    )
    return x.new_zeros(shape) if g is None else g  # materialize_grads would drop the batch dim of batched zeros


class Autograd(Backend):
    """Per-output ``torch.autograd.grad`` loop, nested for higher orders (any order)."""

    name = "autograd"

    def compute(self, f: PointwiseFn, x: Tensor, req: Request):
        u = as_2d(f(x), x)
        grads: dict[tuple[int, tuple[int, ...]], Tensor] = {}
        for rows in row_plan(req, u.shape[-1]):
            for field, prefix in rows:
                src = u[:, field] if not prefix else grads[(field, prefix[:-1])][:, prefix[-1]]
                grads[(field, prefix)] = grad_rows(src, x)
        return rows_to_result(u, req, grads)


class BatchedGrad(Backend):
    """One ``torch.autograd.grad(..., is_grads_batched=True)`` call per derivative order (any order)."""

    name = "batched_grad"
    batched_hvp = True

    def compute(self, f: PointwiseFn, x: Tensor, req: Request):
        u = as_2d(f(x), x)
        grads: dict[tuple[int, tuple[int, ...]], Tensor] = {}
        src, index = u, {}
        for rows in row_plan(req, u.shape[-1]):
            p = torch.arange(len(rows), device=x.device)
            go = src.new_zeros(len(rows), *src.shape)
            if not index:  # first order: select columns of u (N, m)
                go[p, :, [f for f, _ in rows]] = 1
            else:  # select (row, axis) slices of the previous level's (q, N, d)
                parents = [index[(f, pre[:-1])] for f, pre in rows]
                go[p, parents, :, [pre[-1] for _, pre in rows]] = 1
            src = grad_rows(src, x, go, batched=True)  # (p, N, d)
            index = {r: j for j, r in enumerate(rows)}
            grads.update({r: src[j] for j, r in enumerate(rows)})
        return rows_to_result(u, req, grads)
