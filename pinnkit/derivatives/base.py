"""The derivative contract: named requests, the result type and the backend base class.

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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from .paths import require_path

PointwiseFn = Callable[[Tensor], Tensor]

FULL_TOKENS = {"jac": 1, "hess": 2}


def is_derivative_name(name: str) -> bool:
    """True for a need of order >= 1: ``jac``, ``hess`` or a named entry such as ``u_xx`` (not the value ``u``)."""
    return name in FULL_TOKENS or "_" in name


def default_axes(d: int) -> tuple[str, ...]:
    """Axis names used when the caller gives none: ``x, y, z`` for d <= 3, else ``x0 .. x{d-1}``."""
    return ("x", "y", "z")[:d] if d <= 3 else tuple(f"x{i}" for i in range(d))


def default_fields(m: int) -> tuple[str, ...]:
    """Field names used when the caller gives none: ``u, v, w`` for m <= 3, else ``u0 .. u{m-1}``."""
    return ("u", "v", "w")[:m] if m <= 3 else tuple(f"u{i}" for i in range(m))


@dataclass(frozen=True)
class Entry:
    """One requested derivative: ``field`` differentiated along ``axes`` (sorted, so u_tx == u_xt)."""

    name: str
    field: int
    axes: tuple[int, ...]

    @property
    def order(self) -> int:
        return len(self.axes)


def parse_entry(name: str, fields: Sequence[str], axes: Sequence[str]) -> Entry:
    """Parse ``"u"``, ``"u_x"``, ``"v_xy"``, ``"u_txx"`` into an :class:`Entry`.

    The part before ``_`` is a field name, the part after a run of axis names (longest match first,
    so multi-letter axes such as ``x0, x1`` work).
    """
    head, sep, tail = name.partition("_")
    if head not in fields:
        raise KeyError(
            f"unknown field {head!r} in {name!r}; the fields are {tuple(fields)} "
            f"(names look like {fields[0]!r}, {fields[0]}_{axes[0]}, {fields[0]}_{axes[0]}{axes[0]})"
        )
    if sep and not tail:
        raise KeyError(f"{name!r} names no axis after '_'; the axes are {tuple(axes)}")
    by_length = sorted(axes, key=len, reverse=True)
    picked: list[int] = []
    rest = tail
    while rest:
        for a in by_length:
            if rest.startswith(a):
                picked.append(axes.index(a))
                rest = rest[len(a) :]
                break
        else:
            raise KeyError(f"cannot read {rest!r} in {name!r} as axis names; the axes are {tuple(axes)}")
    return Entry(name=name, field=fields.index(head), axes=tuple(sorted(picked)))


@dataclass(frozen=True)
class Sum:
    """A requested weighted sum of derivatives of one field: ``"u_xx+u_yy"`` (a Laplacian) or, with numeric
    weights, ``"u_t+-0.1*u_xx"`` (heat's ``u_t - 0.1 u_xx``; see :func:`combination`).

    Backends that cannot collapse it compute the ``parts`` and add them, weighted; ``taylor`` carries a sum of
    first- and second-order parts as one channel.
    """

    name: str
    field: int
    parts: tuple[tuple[int, ...], ...]
    weights: tuple[float, ...]

    @property
    def order(self) -> int:
        return max(len(p) for p in self.parts)

    @property
    def terms(self) -> tuple[tuple[tuple[int, ...], float], ...]:
        """``((axes, weight), ...)`` sorted by axes: what identifies the sum (its key in a result's entries)."""
        return tuple(zip(self.parts, self.weights, strict=True))

    def combine(self, part: Callable[[tuple[int, ...]], Tensor]) -> Tensor:
        """``Σ weight · part(axes)``: the sum from its parts, for backends that do not carry it whole."""
        out = None
        for axes, w in self.terms:
            t = part(axes) if w == 1.0 else w * part(axes)
            out = t if out is None else out + t
        return out


def parse_sum(name: str, fields: Sequence[str], axes: Sequence[str]) -> Sum:
    """Parse ``"u_xx+u_yy"`` or ``"u_t+-0.1*u_xx"`` into a :class:`Sum`: ``+``-separated parts, each a derivative
    of the one field, optionally preceded by a number and ``*``; no part may repeat."""
    weights, names = [], []
    for piece in name.split("+"):
        coef, star, entry = piece.strip().rpartition("*")
        try:
            weights.append(float(coef) if star else 1.0)
        except ValueError:
            raise KeyError(f"{name!r}: {coef!r} is not a number; a weighted part reads like '-0.1*u_xx'") from None
        names.append(entry.strip())
    parts = [parse_entry(p, fields, axes) for p in names]
    if len({p.field for p in parts}) != 1 or any(p.order == 0 for p in parts):
        raise KeyError(
            f"{name!r}: a sum must add derivatives (order >= 1) of a single field, e.g. 'u_xx+u_yy' or 'u_t+-0.1*u_xx'"
        )
    terms = sorted(zip((p.axes for p in parts), weights, strict=True))
    keys = tuple(a for a, _ in terms)
    if len(set(keys)) != len(keys):
        raise KeyError(f"{name!r} repeats a term")
    return Sum(name=name, field=parts[0].field, parts=keys, weights=tuple(w for _, w in terms))


def laplacian(field: str, axes: Sequence[str]) -> str:
    """The need name of ``field``'s Laplacian over ``axes``: ``laplacian("u", ("x", "y")) == "u_xx+u_yy"``."""
    return combination(field, {a + a: 1.0 for a in axes})


def combination(field: str, weights: Mapping[str, float]) -> str:
    """The need name of a weighted sum of ``field``'s derivatives, keyed by axis names:
    ``combination("u", {"t": 1.0, "xx": -0.1}) == "u_t+-0.1*u_xx"`` (heat's ``u_t - 0.1 u_xx``).

    Ask for the combination a residual uses rather than its parts: ``taylor`` then carries it as one channel
    (heat: u, u_x and u_t - κ u_xx, 3 channels instead of 4); other backends add the parts. The weights are
    numbers fixed for the run (a learnable coefficient needs the parts).
    """
    if not weights:
        raise ValueError("combination needs at least one derivative")
    pieces = []
    for axes, w in weights.items():
        w = float(w)
        coef = "" if w == 1.0 else repr(w).replace("e+", "e") + "*"  # repr: exact; no '+' inside a part
        pieces.append(f"{coef}{field}_{axes}")
    return "+".join(pieces)


@dataclass(frozen=True)
class Request:
    """What a backend must compute, parsed once from a PDE's ``needs``.

    ``full_order`` is 0 (only named entries), 1 (full ``jac``) or 2 (full ``jac`` and ``hess``).
    ``entries`` are the named entries of order >= 1 (order-0 names are read from ``u``), including the parts
    of every requested :class:`Sum`; ``part_only`` lists the ``(field, axes)`` asked for only inside a sum,
    which a collapsing backend need not compute on their own.
    """

    fields: tuple[str, ...]
    axes: tuple[str, ...]
    full_order: int
    entries: tuple[Entry, ...]
    sums: tuple[Sum, ...] = ()
    part_only: frozenset[tuple[int, tuple[int, ...]]] = frozenset()

    @property
    def order(self) -> int:
        return max([self.full_order, *(e.order for e in self.entries), *(s.order for s in self.sums)])

    @property
    def fields_used(self) -> tuple[int, ...] | None:
        """Fields that derivatives are taken of; ``None`` means all (full tensors were asked for)."""
        if self.full_order:
            return None
        return tuple(sorted({e.field for e in self.entries}))

    def derivative_keys(self) -> list[tuple[int, tuple[int, ...]]]:
        """Every (field, axes) the result must hold: full tensors' entries and named ones."""
        keys = {(e.field, e.axes) for e in self.entries}
        return sorted(keys)


def make_request(
    needs: Sequence[str] | None,
    fields: Sequence[str],
    axes: Sequence[str],
    order: int = 2,
) -> Request:
    """Build a :class:`Request`; ``needs=None`` asks for the full tensors up to ``order`` (1 or 2)."""
    fields, axes = tuple(fields), tuple(axes)
    for kind, names in (("field", fields), ("axis", axes)):
        if len(set(names)) != len(names) or any("_" in n or not n for n in names):
            raise ValueError(f"{kind} names must be unique, non-empty and without '_': {names}")
    if needs is None:
        if order not in (0, 1, 2):
            raise ValueError(f"full tensors exist for order 0, 1 or 2, not {order}; name higher entries in needs")
        return Request(fields, axes, order, ())
    if isinstance(needs, str):
        raise TypeError(f"needs must be a sequence of names, not the string {needs!r}: use ({needs!r},)")
    full = max((FULL_TOKENS[n] for n in needs if n in FULL_TOKENS), default=0)
    sums = tuple(parse_sum(n, fields, axes) for n in needs if "+" in n)
    named = [parse_entry(n, fields, axes) for n in needs if n not in FULL_TOKENS and "+" not in n]
    named = [e for e in named if e.order > 0]
    own = {(e.field, e.axes) for e in named}
    parts = {
        (s.field, a): Entry(f"{fields[s.field]}_{''.join(axes[i] for i in a)}", s.field, a)
        for s in sums
        for a in s.parts
    }
    extra = [e for k, e in sorted(parts.items()) if k not in own]
    return Request(fields, axes, full, (*named, *extra), sums, frozenset(k for k in parts if k not in own))


class Derivatives:
    """Values and derivatives of a pointwise ``f`` at points ``x (..., d)``.

    ``d.u (..., m)``; ``d.jac (..., m, d)`` and ``d.hess (..., m, d, d)`` when computed; ``d["u_xx"] (...,)``
    for any computed entry (``d["u"]`` is the field's value). Asking for what was not computed raises a
    ``KeyError`` naming what was.
    """

    def __init__(
        self,
        u: Tensor,
        request: Request,
        entries: dict[tuple[int, tuple[int, ...]], Tensor],
        jac: Tensor | None = None,
        hess: Tensor | None = None,
    ) -> None:
        self.u = u
        self.request = request
        self._entries = entries
        self._jac = jac
        self._hess = hess

    @property
    def fields(self) -> tuple[str, ...]:
        return self.request.fields

    def take(self, rows: slice, lead: tuple[int, ...]) -> Derivatives:
        """Rows ``rows`` of a result at flat points ``(P, d)``, reshaped to the leading shape ``lead``: how one
        call over several terms' concatenated points is split back per term."""

        if rows.indices(self.u.shape[0]) == (0, self.u.shape[0], 1) and lead == (self.u.shape[0],):
            return self  # all of it, already flat: no view ops (each one a node in the step's graph)

        def cut(t: Tensor | None) -> Tensor | None:
            if t is None:
                return None
            t = t[rows]
            return t if t.shape[:1] == lead else t.reshape(*lead, *t.shape[1:])

        entries = {k: cut(v) for k, v in self._entries.items()}
        return Derivatives(cut(self.u), self.request, entries, cut(self._jac), cut(self._hess))

    @property
    def axes(self) -> tuple[str, ...]:
        return self.request.axes

    @property
    def jac(self) -> Tensor:
        if self._jac is None:
            raise KeyError("the full Jacobian was not computed: call with needs=None or include 'jac' in needs")
        return self._jac

    @property
    def hess(self) -> Tensor:
        if self._hess is None:
            raise KeyError("the full Hessian was not computed: call with needs=None or include 'hess' in needs")
        return self._hess

    def __getitem__(self, name: str) -> Tensor:
        if name in FULL_TOKENS:
            return self.jac if name == "jac" else self.hess
        if "+" in name:
            s = next((s for s in self.request.sums if s.name == name), None)  # as asked: parsed already
            s = s or parse_sum(name, self.fields, self.axes)
            if (s.field, s.terms) in self._entries:  # carried collapsed by the backend
                return self._entries[(s.field, s.terms)]
            f = self.fields[s.field]
            return s.combine(lambda a: self[f"{f}_{''.join(self.axes[i] for i in a)}"])
        e = parse_entry(name, self.fields, self.axes)
        if e.order == 0:
            return self.u[..., e.field]
        key = (e.field, e.axes)
        if key in self._entries:
            return self._entries[key]
        if e.order == 1 and self._jac is not None:
            return self._jac[..., e.field, e.axes[0]]
        if e.order == 2 and self._hess is not None:
            return self._hess[..., e.field, e.axes[0], e.axes[1]]
        raise KeyError(f"{name!r} was not computed; available: {self.available()}")

    def detach(self) -> Derivatives:
        """The same values, cut from the autograd graph (for evaluation and export)."""
        cut = lambda t: None if t is None else t.detach()  # noqa: E731
        entries = {k: v.detach() for k, v in self._entries.items()}
        return Derivatives(self.u.detach(), self.request, entries, cut(self._jac), cut(self._hess))

    def available(self) -> list[str]:
        names = [f for f in self.fields]
        names += [e.name for e in self.request.entries if (e.field, e.axes) not in self.request.part_only]
        names += [s.name for s in self.request.sums]
        if self._jac is not None:
            names.append("jac")
        if self._hess is not None:
            names.append("hess")
        return names

    def __repr__(self) -> str:
        return f"Derivatives(u={tuple(self.u.shape)}, available={self.available()})"


class UnsupportedRequest(ValueError):
    """A backend cannot serve a request (too high an order, an unsupported module, too many points)."""


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
        """
        if x.dim() == 0:
            raise ValueError("x must have shape (..., d) with d >= 1, got a scalar")
        lead, d = x.shape[:-1], x.shape[-1]
        if isinstance(needs, Request):
            req, given_fields, axes = needs, needs.fields, needs.axes
        else:
            axes = tuple(axes) if axes is not None else default_axes(d)
            given_fields = tuple(fields) if fields is not None else None
            req = make_request(needs, given_fields or ("u",), axes, order)
        if len(axes) != d:
            raise ValueError(f"x has d={d} input columns but {len(axes)} axis names {axes} were given")
        self._check_order(req)
        if req.order > 0 and self.uses_autograd and not torch.is_grad_enabled():
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
        if req.order == 0:
            u = as_2d(f(xf), xf)
            entries: dict = {}
            jac = hess = None
        else:
            u, entries, jac, hess = self.compute(f, xf, req)
            if self.uses_autograd:
                require_path(u, xf, self.name)
        m = u.shape[-1]
        if given_fields is None and needs is None:
            req = make_request(None, default_fields(m), axes, req.full_order)
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
        if self.max_order is not None and req.order > self.max_order:
            worst = max(req.entries, key=lambda e: e.order)
            raise UnsupportedRequest(
                f"backend {self.name!r} serves derivatives up to order {self.max_order}; "
                f"{worst.name!r} is of order {worst.order}. Backends without this limit: autograd, "
                "batched_grad, functional, func, func_fwd"
            )

    def compute(
        self, f: PointwiseFn, x: Tensor, req: Request
    ) -> tuple[Tensor, dict[tuple[int, tuple[int, ...]], Tensor], Tensor | None, Tensor | None]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(compile={self.compile})" if self.compilable else f"{type(self).__name__}()"


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
