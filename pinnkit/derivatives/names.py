"""The need-name grammar: what a PDE asks a backend for, parsed once into a :class:`Request`.

Names read ``<field>_<axes>``: ``"u_x"``, ``"v_xy"``, ``"u_txx"`` (an :class:`Entry`), weighted sums of one field's
derivatives ``"u_xx+u_yy"`` or ``"u_t+-0.1*u_xx"`` (a :class:`Sum`, built by :func:`laplacian` and
:func:`combination`), the full tensors ``"jac"`` and ``"hess"``, and ``"~"`` before a Laplacian or biharmonic for
its stochastic estimate (:mod:`pinnkit.derivatives.estimates`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor

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


def axis_index(axes: Sequence[str]) -> tuple[dict[str, int], list[int]]:
    """``({name: index}, name lengths longest first)``: what :func:`parse_entry` matches axis names by (built once
    per sum: a Laplacian in d = 10,000 has as many parts)."""
    return {a: i for i, a in enumerate(axes)}, sorted({len(a) for a in axes}, reverse=True)


def parse_entry(
    name: str, fields: Sequence[str], axes: Sequence[str], index: tuple[dict[str, int], list[int]] | None = None
) -> Entry:
    """Parse ``"u"``, ``"u_x"``, ``"v_xy"``, ``"u_txx"`` into an :class:`Entry`.

    The part before ``_`` is a field name, the part after a run of axis names (longest match first,
    so multi-letter axes such as ``x0, x1`` work); ``index``: :func:`axis_index` of ``axes``, if built already.
    """
    head, sep, tail = name.partition("_")
    if head not in fields:
        raise KeyError(
            f"unknown field {head!r} in {name!r}; the fields are {tuple(fields)} "
            f"(names look like {fields[0]!r}, {fields[0]}_{axes[0]}, {fields[0]}_{axes[0]}{axes[0]})"
        )
    if sep and not tail:
        raise KeyError(f"{name!r} names no axis after '_'; the axes are {tuple(axes)}")
    by_name, lengths = index or axis_index(axes)
    picked: list[int] = []
    rest = tail
    while rest:
        for n in lengths:
            if rest[:n] in by_name:
                picked.append(by_name[rest[:n]])
                rest = rest[n:]
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
    index = axis_index(axes)
    parts = [parse_entry(p, fields, axes, index) for p in names]
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
    estimates: tuple = ()  # (Estimate, ...): the '~' needs, served from random directions (derivatives.estimates)

    @property
    def order(self) -> int:
        """The highest order computed exactly (estimates aside)."""
        return max([self.full_order, *(e.order for e in self.entries), *(s.order for s in self.sums)])

    @property
    def estimate_order(self) -> int:
        return max([0, *(e.order for e in self.estimates)])

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
    from .estimates import parse_estimate  # (estimates parses its sums with this module)

    estimates = tuple(parse_estimate(n, fields, axes) for n in needs if n.startswith("~"))
    needs = [n for n in needs if not n.startswith("~")]
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
    if len({e.axes for e in estimates}) > 1:
        raise KeyError(f"the estimated needs {[e.name for e in estimates]} of one call must share their axes")
    part_only = frozenset(k for k in parts if k not in own)
    return Request(fields, axes, full, (*named, *extra), sums, part_only, estimates)
