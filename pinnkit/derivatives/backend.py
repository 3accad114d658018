"""The derivative contract and the backend base class.

A backend is called with a *pointwise* callable ``f: (..., d) -> (..., m)`` and points ``x: (..., d)``
with any number of leading batch dims. It returns :class:`Derivatives` holding

- ``u``    ``(..., m)``          the values,
- ``jac``  ``(..., m, d)``       the full Jacobian, when asked for (``needs=None`` or ``"jac"``),
- ``hess`` ``(..., m, d, d)``    the full Hessian, when asked for (``needs=None`` or ``"hess"``),
- named entries such as ``d["u_xx"]`` ``(...,)``, over the axis and field names a PDE declares.

Results keep the autograd graph to the parameters of ``f`` (create_graph semantics) so residual losses
train. Row ``k`` of every output depends on row ``k`` of ``x`` only, provided ``f`` is pointwise
(:mod:`pinnkit.derivatives.checks` verifies that).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
from torch import Tensor

from ..errors import UnsupportedRequest
from .estimates import by_hvp, check_directions
from .names import FULL_TOKENS, Request, default_axes, default_fields, make_request
from .paths import require_path
from .result import Derivatives

PointwiseFn = Callable[[Tensor], Tensor]


class Backend:
    """Base class of derivative backends.

    Subclasses implement :meth:`compute` on flattened points ``x (N, d)`` and return
    ``(u (N, m), entries, jac (N, m, d) | None, hess (N, m, d, d) | None)``; this class handles names,
    leading batch dims and the checks common to all.
    """

    name: ClassVar[str] = "base"
    max_order: ClassVar[int | None] = None
    uses_autograd: ClassVar[bool] = True
    compilable: ClassVar[bool] = False
    any_callable: ClassVar[bool] = True  # False: needs modules it has rules for (taylor)
    batched_hvp: ClassVar[bool] = False  # estimates: one batched grad call per level over all directions
    role: ClassVar[str] = "compute"  # "reference" (dense: O(N²), a check only) or "chooser" (auto picks another)

    def __init__(self, compile: bool = False) -> None:
        """``compile``: ``torch.compile`` the derivative computation (the ``derivative.compile`` switch)."""
        if compile and not self.compilable:
            raise ValueError(
                f"backend {self.name!r} cannot be compiled: torch.compile does not support the double backward "
                "that nested reverse-mode derivatives need. Use derivative=taylor derivative.compile=true (one "
                "forward graph, one backward), or compile=false"
            )
        self.compile = bool(compile)

    def prepare(
        self,
        f: PointwiseFn,
        x: Tensor,
        needs: Sequence[str] | None = None,
        *,
        axes: Sequence[str] | None = None,
        fields: Sequence[str] | None = None,
    ) -> None:
        """Called once before training with the real net and a real batch of points; a no-op by default
        (``auto`` picks its backend here)."""

    def __call__(
        self,
        f: PointwiseFn,
        x: Tensor,
        needs: Sequence[str] | Request | None = None,
        *,
        axes: Sequence[str] | None = None,
        fields: Sequence[str] | None = None,
        order: int = 2,
        check_pointwise: bool = False,
        directions: Tensor | None = None,
    ) -> Derivatives:
        """Evaluate ``f`` at ``x (..., d)`` with the derivatives in ``needs`` (``None``: full tensors).

        ``needs`` may be a :class:`Request` parsed once by :func:`make_request` (its fields and axes then stand
        for ``fields`` and ``axes``): a training loop calls with the same needs every step, and parsing names
        inside a compiled step would break its graph.

        An output with no autograd path to ``x`` (computed through numpy or from ``x.detach()``) is refused with
        :class:`~pinnkit.derivatives.paths.NoPathError` by the backends that differentiate through autograd.
        ``check_pointwise=True`` first runs :func:`~pinnkit.derivatives.checks.check_pointwise` on the points
        (two extra evaluations of ``f``): a net that mixes points (BatchNorm in training mode, a batch mean) is
        refused instead of giving derivatives that depend on the other points. Training runs that check once
        at the start (``checks=true``).

        ``directions (G, K, d)``: the random directions of the estimated (``"~"``) needs
        (:mod:`~pinnkit.derivatives.estimates`), the same for every point; required when there are any.
        """
        if x.dim() == 0:
            raise ValueError("x must have shape (..., d) with d >= 1, got a scalar")
        lead, d = x.shape[:-1], x.shape[-1]
        if isinstance(needs, Request):
            req, given_fields, axes = needs, needs.fields, needs.axes
        else:
            axes = tuple(axes) if axes is not None else default_axes(d)
            given_fields = tuple(fields) if fields is not None else None
            req = make_request(needs, given_fields or fewest_fields(needs), axes, order)
        if len(axes) != d:
            raise ValueError(f"x has d={d} input columns but {len(axes)} axis names {axes} were given")
        self._check_order(req)
        if (req.order > 0 or req.estimates) and self.uses_autograd and not torch.is_grad_enabled():
            raise RuntimeError(
                f"backend {self.name!r} needs autograd, but it is disabled here (torch.no_grad or "
                "inference_mode): derivatives would be lost. Wrap the call in torch.enable_grad(); in Lightning "
                "build the Trainer with inference_mode=False"
            )
        xf = x.reshape(-1, d)
        if check_pointwise and xf.shape[0] >= 2:
            from .checks import check_pointwise as check  # checks imports this module

            check(f, xf.detach()[:64])
        if self.uses_autograd and not xf.requires_grad:
            xf = xf.detach().requires_grad_(True)
        if req.order == 0 and not req.estimates:
            u = as_2d(f(xf), xf)
            entries: dict = {}
            jac = hess = None
        else:
            v = check_directions(directions, req.estimates, xf) if req.estimates else None
            u, entries, jac, hess = self.evaluate(f, xf, req, v)
            if self.uses_autograd:
                require_path(u, xf, self.name)
        m = u.shape[-1]
        if given_fields is None and len(req.fields) != m:  # the default names for m outputs, checked again
            req = make_request(needs, default_fields(m), axes, order)
        elif len(req.fields) != m:
            raise ValueError(
                f"f returns m={m} output columns but the fields {req.fields} name {len(req.fields)}; "
                "pass fields=(...) with one name per output column"
            )

        def shape(t: Tensor, extra: tuple[int, ...]) -> Tensor:
            # flat points (N, d) come back as computed, other leading shapes are restored (a reshape is a view
            # op: one more node in the step's graph, forward and backward)
            return t if len(lead) == 1 else t.reshape((*lead, *extra))

        return Derivatives(
            shape(u, (m,)),
            req,
            {k: shape(v, ()) for k, v in entries.items()},
            None if jac is None else shape(jac, jac.shape[1:]),
            None if hess is None else shape(hess, hess.shape[1:]),
        )

    def _check_order(self, req: Request) -> None:
        from .registry import generic_names  # the registry imports every backend module: read when an error is worded

        if self.max_order is not None and req.order > self.max_order:
            worst = max(req.entries, key=lambda e: e.order)
            raise UnsupportedRequest(
                f"backend {self.name!r} serves derivatives up to order {self.max_order}; "
                f"{worst.name!r} is of order {worst.order}. Backends without this limit: {', '.join(generic_names())}"
            )

    def compute(
        self, f: PointwiseFn, x: Tensor, req: Request
    ) -> tuple[Tensor, dict[tuple[int, tuple[int, ...]], Tensor], Tensor | None, Tensor | None]:
        raise NotImplementedError

    def evaluate(self, f: PointwiseFn, x: Tensor, req: Request, directions: Tensor | None) -> tuple:
        """:meth:`compute`'s result with the estimates added (``(N, G)`` each, under ``Estimate.key``), here
        through Hessian-vector products (:func:`~pinnkit.derivatives.estimates.by_hvp`)."""
        u, entries, jac, hess = self.compute(f, x, req) if req.order else (as_2d(f(x), x), {}, None, None)
        if req.estimates:
            entries = {**entries, **by_hvp(u, x, req.estimates, directions, self.batched_hvp)}
        return u, entries, jac, hess

    def __repr__(self) -> str:
        return f"{type(self).__name__}(compile={self.compile})" if self.compilable else f"{type(self).__name__}()"


def fewest_fields(needs: Sequence[str] | None) -> tuple[str, ...]:
    """The shortest default field names (:func:`default_fields`) that every name in ``needs`` reads a field of:
    ``("u",)`` for ``("jac",)`` or ``("u_x",)``, ``("u", "v")`` for ``("v_x",)``, ``u0 .. u3`` for ``("u3_x",)``.
    The call parses its needs with these before ``f`` runs; once ``f``'s output width ``m`` is known, the names
    are ``default_fields(m)`` (the indices agree, since the default names of m outputs extend those of fewer)."""
    heads = {n.split("_")[0].split("*")[-1].strip().lstrip("~") for name in needs or () for n in name.split("+")}
    heads -= set(FULL_TOKENS)
    letters = default_fields(3)  # the names of up to 3 outputs; more are numbered u0, u1, ...
    if heads <= set(letters):
        return default_fields(max((letters.index(h) + 1 for h in heads), default=1))
    if all(h[:1] == "u" and h[1:].isdigit() and h[1:] == str(int(h[1:])) for h in heads):
        return default_fields(max(4, *(int(h[1:]) + 1 for h in heads)))
    return default_fields(1)  # names no default field (or mixes the two kinds): make_request reports it


def as_2d(y: Tensor, x: Tensor) -> Tensor:
    """Give a scalar-valued ``f``'s output ``(...,)`` a trailing field axis: ``(..., 1)``."""
    if y.shape == x.shape[:-1]:
        return y.unsqueeze(-1)
    if y.shape[:-1] != x.shape[:-1]:
        raise ValueError(
            f"f is not pointwise-shaped: for x of shape {tuple(x.shape)} it returned {tuple(y.shape)}, "
            f"expected {tuple(x.shape[:-1])} + (m,)"
        )
    return y
