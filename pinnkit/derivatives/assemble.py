"""Assembling a :class:`~pinnkit.derivatives.result.Derivatives` from what a backend family computes: rows of
per-output gradients (``autograd``, ``batched_grad``) or full derivative tensors (``functional``, ``func``)."""

from __future__ import annotations

import torch
from torch import Tensor

from .names import Request


def rows_to_result(
    u: Tensor, req: Request, grads: dict[tuple[int, tuple[int, ...]], Tensor]
) -> tuple[Tensor, dict, Tensor | None, Tensor | None]:
    """Assemble a result from gradient rows: ``grads[(field, prefix)] (N, d)`` = ∇ of ∂_prefix u_field."""
    entries = {(f, a): grads[(f, a[:-1])][:, a[-1]] for f, a in req.derivative_keys()}
    m, d = u.shape[-1], len(req.axes)
    jac = hess = None
    if req.full_order >= 1:
        jac = torch.stack([grads[(f, ())] for f in range(m)], dim=1)
    if req.full_order >= 2:
        hess = torch.stack([torch.stack([grads[(f, (a,))] for a in range(d)], dim=1) for f in range(m)], dim=1)
    return u, entries, jac, hess


def row_plan(req: Request, m: int) -> list[list[tuple[int, tuple[int, ...]]]]:
    """Gradient rows to compute, level by level: level k holds ``(field, prefix)`` with ``len(prefix) == k``.

    The gradient of row ``(f, p)`` gives every entry ``(f, p + (a,))``; only rows some request needs
    are listed, which is what a careful user of per-output autograd does.
    """
    rows: set[tuple[int, tuple[int, ...]]] = set()
    fields = range(m) if req.full_order else ()
    for f in fields:
        rows.add((f, ()))
        if req.full_order >= 2:
            rows.update((f, (a,)) for a in range(len(req.axes)))
    for e in req.entries:
        rows.update((e.field, e.axes[:k]) for k in range(e.order))
    levels: list[list] = [[] for _ in range(req.order)]
    for r in sorted(rows):
        levels[len(r[1])].append(r)
    return levels


def tensors_to_result(ys: list[Tensor], req: Request) -> tuple[Tensor, dict, Tensor | None, Tensor | None]:
    """Assemble a result from full derivative tensors of the fields ``req.fields_used``.

    ``ys[0]`` is ``u (N, m)`` (all fields); ``ys[k]`` for k >= 1 is ``(N, n_used, d, ..., d)``.
    """
    used = req.fields_used
    pos = {f: i for i, f in enumerate(used)} if used is not None else {f: f for f in range(ys[0].shape[-1])}
    entries = {(f, a): ys[len(a)][(slice(None), pos[f], *a)] for f, a in req.derivative_keys()}
    jac = ys[1] if req.full_order >= 1 else None
    hess = ys[2] if req.full_order >= 2 else None
    return ys[0], entries, jac, hess
