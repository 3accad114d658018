"""Runtime checks for the two classic silent PINN bugs.

- :func:`check_pointwise`: every backend relies on ``f`` being pointwise (row k of the output depends on row
  k of the input only). BatchNorm in training mode or attention over points break that silently: the
  "derivatives" then mix points.
- :func:`check_reaches_params`: derivatives computed without the graph (``create_graph=False``, a
  ``.detach()``, ``torch.no_grad``) give a residual loss with no gradient, so the loss never trains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

from .backend import Backend, PointwiseFn, as_2d
from .names import FULL_TOKENS, is_derivative_name

#: Module types that mix points along the batch dimension while training.
MIXING_MODULES: tuple[type[nn.Module], ...] = (nn.modules.batchnorm._BatchNorm, nn.MultiheadAttention)


class NotPointwiseError(ValueError):
    """The network mixes points: its output at one point depends on other points."""


class GraphLostError(RuntimeError):
    """A derivative-based loss has no gradient with respect to the parameters."""


def check_pointwise(f: PointwiseFn, x: Tensor, rows: Sequence[int] = (0, -1), tol: float = 0.0) -> None:
    """Raise :class:`NotPointwiseError` unless perturbing point ``k`` changes output row ``k`` only.

    ``x (N, d)`` with N >= 2. ``tol`` bounds the change allowed in other rows (0: exactly unchanged, which
    holds for any pointwise net in eager mode).
    """
    if isinstance(f, nn.Module):
        for name, mod in f.named_modules():
            if isinstance(mod, MIXING_MODULES) and mod.training:
                raise NotPointwiseError(
                    f"module {name or type(f).__name__!r} ({type(mod).__name__}) mixes points in training mode, "
                    "so derivatives of one point would depend on the others. Use LayerNorm (per point) or "
                    "no normalization in PINN networks"
                )
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"check_pointwise needs points of shape (N, d) with N >= 2, got {tuple(x.shape)}")
    with torch.no_grad():
        y0 = as_2d(f(x), x)
        for k in rows:
            k = k % x.shape[0]
            xk = x.clone()
            xk[k] += 0.1 * (1.0 + x[k].abs())
            changed = (as_2d(f(xk), xk) - y0).abs().amax(-1) > tol
            others = changed.clone()
            others[k] = False
            if others.any():
                bad = others.nonzero().flatten().tolist()[:5]
                raise NotPointwiseError(
                    f"the network is not pointwise: perturbing point {k} changed the outputs at points {bad}. "
                    "Derivative backends would mix points (BatchNorm in training mode, attention or pooling "
                    "over the batch cause this)"
                )


def check_reaches_params(
    backend: Backend,
    f: PointwiseFn,
    x: Tensor,
    params: Iterable[nn.Parameter],
    needs: Sequence[str] | None = None,
    residual: Callable | None = None,
    **names,
) -> None:
    """Raise :class:`GraphLostError` unless each needed derivative's loss has a gradient w.r.t. ``params``.

    Each derivative entry of order >= 1 in ``needs`` (or the full ``jac``/``hess``) is checked on its own,
    so a backend that keeps ``u`` attached but detaches derivatives is caught. With ``residual``
    (``(Derivatives, x) -> Tensor``) the residual's loss is checked too.
    """
    params = [p for p in params if p.requires_grad]
    if not params:
        raise GraphLostError("no trainable parameters were given: nothing can train")
    with torch.enable_grad():
        d = backend(f, x, needs, **names)
        named = [n for n in (needs or tuple(FULL_TOKENS)) if is_derivative_name(n)]
        losses = {n: d[n].square().mean() for n in named}
        if residual is not None:
            losses["residual"] = residual(d, x).square().mean()
        for name, loss in losses.items():
            if not loss.requires_grad:
                raise GraphLostError(
                    f"the loss of {name!r} from backend {backend.name!r} has no autograd graph: derivatives were "
                    "computed without create_graph=True, detached, or under torch.no_grad, so the loss never trains"
                )
            grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
            if all(g is None or not g.abs().sum().item() > 0 for g in grads):
                raise GraphLostError(
                    f"the loss of {name!r} from backend {backend.name!r} has zero gradient w.r.t. every parameter: "
                    "the derivative does not reach the network (lost graph), or the activation's derivative of "
                    "this order vanishes (e.g. ReLU has u_xx = 0): use tanh, sin, gelu or silu"
                )
