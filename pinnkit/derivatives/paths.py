"""Whether a function's output reaches its input through autograd.

A function computed outside torch (through numpy, ``.item()``, ``x.detach()``) returns values whose derivatives
every reverse-mode backend reports as zero: ``u_x = 0`` for ``u = x²``. :func:`require_path` refuses such an
output before any result is returned. It walks the output's autograd graph (a few dozen nodes for a small
net; no tensor work), so it costs microseconds per call. A derivative that is genuinely zero (one field that
does not depend on ``x`` while another does) still reaches ``x`` and is fine.
"""

from __future__ import annotations

from torch import Tensor


class NoPathError(ValueError):
    """The output has no autograd path to the input points: derivatives would silently be zero."""


def _node_of(x: Tensor):
    """The graph node that stands for ``x``: its ``grad_fn``, or a leaf's gradient accumulator."""
    if x.grad_fn is not None:
        return x.grad_fn
    return x.view_as(x).grad_fn.next_functions[0][0]  # the AccumulateGrad node the graph holds for the leaf


def reaches(out: Tensor, x: Tensor) -> bool:
    """Whether ``out``'s autograd graph contains ``x`` (``x`` requires grad)."""
    if out is x:
        return True
    if out.grad_fn is None or not x.requires_grad:
        return False
    target = _node_of(x)
    seen, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is target:
            return True
        for nxt, _ in node.next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def require_path(out: Tensor, x: Tensor, backend: str) -> None:
    """Raise :class:`NoPathError` unless ``out`` depends on ``x`` through autograd."""
    if not reaches(out, x):
        raise NoPathError(
            f"backend {backend!r}: the function's output has no autograd path to its input points, so every "
            "derivative would come out as zero. It is computed outside torch (numpy, .item(), .tolist()) or from "
            "x.detach(): write it in torch operations on x"
        )
