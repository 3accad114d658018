"""Truncated Taylor jets: a hidden tensor together with only the derivative channels a request needs.

A :class:`Jet` holds ``data (C, N, w)``: channel 0 is the value ``h``, the others are derivatives of ``h``
along input axes, in the order fixed by a :class:`ChannelSpec`:

- ``(i,)``: first derivatives ``∂h/∂x_i`` for the axes some entry needs;
- ``(i, j)`` (``i <= j``): second derivatives, only the pairs asked for (or implied by a third-order entry);
- a *collapsed* channel ``Σ_(a,w)∈P w ∂^a h`` for a requested weighted sum ``P`` of first- and second-order
  derivatives (a Laplacian is one channel, whatever d; heat's ``u_t - κ u_xx`` is one channel);
- ``(i, j, k)``: third derivatives (KdV's ``u_xxx``), with every lower sub-derivative they need.

Propagation rules (checked against autograd in float64 by the tests):

- linear ``W h + b``: every channel through ``W`` in one matmul, the bias on the value only; a channel that is
  ``σ^(t)(h) ⊙ c`` with ``c`` the same at every point (after the first activation: the first Linear's columns)
  goes through as ``σ^(t)(h) (diag(c) W^T)``, so the ``(n, N, w)`` product is never formed (:class:`Scaled`);
- elementwise ``σ(h)``: Faà di Bruno, ``z_i = σ' h_i``, ``z_ij = σ'' h_i h_j + σ' h_ij``,
  collapsed ``z_P = σ'' Σ_(ij,w)∈P w h_i h_j + σ' h_P`` (first-order parts enter through ``h_P`` alone),
  third order over the set partitions;
- product ``a ⊙ c``: Leibniz, ``z_ij = a_ij c + a_i c_j + a_j c_i + a c_ij`` and likewise per channel;
- sums and differences channel-wise.

The cost grows with the number of channels, not with d², and there is no double backward: the whole
propagation is one forward graph, so ``torch.compile`` handles it and the parameter gradient is one backward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import torch
from torch import Tensor

Key = tuple  # (i, j, ...) sorted axis indices, or ("sum", (((i, j), w), ...)) for a collapsed channel
Terms = tuple[tuple[tuple[int, ...], float], ...]  # a collapsed channel: ((axes, weight), ...), axes of order 1-2

# An activation's derivatives: ``derivs(h, k) -> [σ(h), σ'(h), ..., σ^(k)(h)]``, each shaped like ``h``.
Derivs = Callable[[Tensor, int], list[Tensor]]


def _sub_multisets(axes: tuple[int, ...]) -> set[tuple[int, ...]]:
    return {tuple(sorted(c)) for r in range(1, len(axes) + 1) for c in combinations(axes, r)}


def _set_partitions(items: list[int]) -> list[list[list[int]]]:
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for part in _set_partitions(rest):
        out.append([[first], *part])
        for k in range(len(part)):
            out.append([*part[:k], [first, *part[k]], *part[k + 1 :]])
    return out


@dataclass(frozen=True)
class ChannelSpec:
    """Which derivative channels a jet carries, in storage order (see the module docstring).

    ``plain`` are sorted axis tuples of order >= 1; ``sums`` are collapsed channels, each a tuple of
    ``(axes, weight)`` terms with axes of order 1 or 2.
    """

    d: int
    plain: tuple[tuple[int, ...], ...]
    sums: tuple[Terms, ...] = field(default=())

    @staticmethod
    def build(d: int, entries: Sequence[tuple[int, ...]], sums: Sequence[Terms] = ()) -> ChannelSpec:
        """The smallest spec holding ``entries`` (axis tuples) and the collapsed ``sums``.

        A collapsed channel's second-order parts need the first-order channels of their axes (``σ'' h_i h_j``);
        its first-order parts need nothing of their own.
        """
        plain: set[tuple[int, ...]] = set()
        for a in entries:
            plain |= _sub_multisets(tuple(sorted(a)))
        for terms in sums:
            if any(len(a) not in (1, 2) for a, _ in terms):
                raise ValueError(f"only sums of first- and second-order derivatives collapse, got {terms}")
            plain |= {(i,) for a, _ in terms if len(a) == 2 for i in a}
        ordered = tuple(sorted(plain, key=lambda a: (len(a), a)))
        return ChannelSpec(d, ordered, tuple(tuple(sorted(t)) for t in sums))

    def __post_init__(self) -> None:
        # Precompute every table once (plain attributes, so torch.compile traces lookups, not property code).
        for name in ("keys", "index", "blocks", "pair_index", "sum_pairs", "higher_terms", "higher_splits"):
            object.__setattr__(self, name, getattr(ChannelSpec, "_" + name)(self))

    # ---- layout (computed once in __post_init__) -----------------------------------------------------------
    def _keys(self) -> tuple[Key, ...]:
        first = [a for a in self.plain if len(a) == 1]
        second = [a for a in self.plain if len(a) == 2]
        higher = [a for a in self.plain if len(a) > 2]
        return ((), *first, *second, *(("sum", p) for p in self.sums), *higher)

    def _index(self) -> dict[Key, int]:
        return {k: i for i, k in enumerate(self.keys)}

    @property
    def size(self) -> int:
        return len(self.keys)

    def _blocks(self) -> tuple[slice, slice, slice, slice]:
        """Slices of the first-order, plain second-order, collapsed and higher-order channels."""
        n1 = sum(len(a) == 1 for a in self.plain)
        n2 = sum(len(a) == 2 for a in self.plain)
        ns = len(self.sums)
        s1 = slice(1, 1 + n1)
        s2 = slice(s1.stop, s1.stop + n2)
        ss = slice(s2.stop, s2.stop + ns)
        return s1, s2, ss, slice(ss.stop, self.size)

    def _pair_index(self) -> tuple[list[int], list[int]]:
        """For each plain second-order channel ``(i, j)``: the channels of ``(i,)`` and ``(j,)``."""
        second = [self.keys[k] for k in range(self.blocks[1].start, self.blocks[1].stop)]
        return [self.index[(a[0],)] for a in second], [self.index[(a[1],)] for a in second]

    def _sum_pairs(self) -> list[tuple[list[int], list[int], list[float]]]:
        """For each collapsed channel: the first-order channels of its second-order parts' two axes, and the
        parts' weights."""
        out = []
        for terms in self.sums:
            second = [(a, w) for a, w in terms if len(a) == 2]
            out.append(([self.index[(a[0],)] for a, _ in second], [self.index[(a[1],)] for a, _ in second],
                        [w for _, w in second]))  # fmt: skip
        return out

    def _higher_terms(self) -> list[list[tuple[int, list[int]]]]:
        """For each order >= 3 channel: Faà di Bruno terms ``(number of blocks, block channels)``."""
        out = []
        for a in self.keys[self.blocks[3]]:
            terms = []
            for part in _set_partitions(list(range(len(a)))):
                terms.append((len(part), [self.index[tuple(sorted(a[p] for p in block))] for block in part]))
            out.append(terms)
        return out

    def _higher_splits(self) -> list[list[tuple[int, int]]]:
        """For each order >= 3 channel: Leibniz terms ``(channel of a, channel of c)`` over position subsets."""
        out = []
        for a in self.keys[self.blocks[3]]:
            n = len(a)
            terms = []
            for r in range(n + 1):
                for left in combinations(range(n), r):
                    la = tuple(sorted(a[p] for p in left))
                    ra = tuple(sorted(a[p] for p in range(n) if p not in left))
                    terms.append((self.index[la], self.index[ra]))
            out.append(terms)
        return out

    @property
    def order(self) -> int:
        return max([len(a) for a in self.plain] + [len(a) for terms in self.sums for a, _ in terms] + [0])


class Jet:
    """A hidden tensor and its derivative channels, stored as blocks laid out by ``spec``.

    ``blocks = (value (N, w), first (n1, ·, w), second (n2, ·, w), collapsed (ns, ·, w), higher (n3, ·, w))``
    where ``·`` is ``N`` or 1 (broadcast: after the first Linear, ``∂h/∂x_i`` is a column of ``W`` for every
    point). A block is ``None`` when it is empty or identically zero (second derivatives of the input), or a
    :class:`Scaled` ``σ^(t)(h) ⊙ c`` that only :meth:`linear` takes as it is (``blocks`` multiplies it out).
    Keeping the blocks apart, instead of slicing one ``(C, N, w)`` tensor, means no op's backward scatters
    into a zero-filled full-size buffer: a Linear is one matmul per block, a nonlinearity a few elementwise ops.
    """

    __slots__ = ("_raw", "spec")

    def __init__(self, blocks: Sequence[Tensor | Scaled | None], spec: ChannelSpec) -> None:
        sizes = [1] + [s.stop - s.start for s in spec.blocks]
        for b, n in zip(blocks, sizes, strict=True):
            if (n == 0 and b is not None) or (b is not None and n != 1 and b.shape[0] != n):
                raise ValueError(f"jet blocks {[None if b is None else tuple(b.shape) for b in blocks]} do not "
                                 f"match the spec's channel counts {sizes}")  # fmt: skip
        if blocks[0] is None:
            raise ValueError("a jet needs its value")
        self._raw, self.spec = tuple(blocks), spec

    @property
    def blocks(self) -> tuple[Tensor | None, ...]:
        """The blocks as tensors (a :class:`Scaled` block is multiplied out, once)."""
        if any(isinstance(b, Scaled) for b in self._raw):
            self._raw = tuple(b.dense() if isinstance(b, Scaled) else b for b in self._raw)
        return self._raw  # type: ignore[return-value]

    @staticmethod
    def seed(x: Tensor, spec: ChannelSpec) -> Jet:
        """The input jet of ``x (N, d)``: value ``x``, ``∂x/∂x_i = e_i`` (broadcast), a collapsed channel the
        weights of its first-order parts ``Σ w_i e_i`` (broadcast), higher channels zero."""
        b1 = spec.blocks[0]
        first = collapsed = None
        if b1.stop > b1.start:
            axes = torch.tensor([spec.keys[k][0] for k in range(b1.start, b1.stop)], device=x.device)
            first = torch.nn.functional.one_hot(axes, x.shape[-1]).to(x.dtype)[:, None, :]  # (n1, 1, d)
        if any(len(a) == 1 for terms in spec.sums for a, _ in terms):
            rows = [[0.0] * x.shape[-1] for _ in spec.sums]
            for row, terms in zip(rows, spec.sums, strict=True):
                for a, w in terms:
                    if len(a) == 1:
                        row[a[0]] = w
            collapsed = torch.tensor(rows, dtype=x.dtype, device=x.device)[:, None, :]  # (ns, 1, d)
        return Jet((x, first, None, collapsed, None), spec)

    @property
    def value(self) -> Tensor:
        return self.blocks[0]

    @property
    def data(self) -> Tensor:
        """All channels stacked: ``(C, N, w)`` (zero blocks materialized)."""
        v, *rest = self.blocks
        out = [v.unsqueeze(0)]
        for b, sl in zip(rest, self.spec.blocks, strict=True):
            n = sl.stop - sl.start
            if n:
                out.append(v.new_zeros((n, *v.shape)) if b is None else b.expand(n, *v.shape))
        return torch.cat(out)

    def channel(self, key: Key) -> Tensor:
        return self.data[self.spec.index[key]]

    def _channels(self) -> list[Tensor | None]:
        """Every channel as its own ``(·, w)`` tensor (``None`` if zero), in spec order; views via unbind."""
        v, *rest = self.blocks
        out: list[Tensor | None] = [v]
        for b, sl in zip(rest, self.spec.blocks, strict=True):
            out += [None] * (sl.stop - sl.start) if b is None else list(b.unbind(0))
        return out

    def _like(self, blocks: Sequence[Tensor | None]) -> Jet:
        return Jet(blocks, self.spec)

    # ---- linear maps ---------------------------------------------------------------------------------------
    def linear(self, weight: Tensor, bias: Tensor | None = None) -> Jet:
        """``h W^T + b`` on every channel (the bias on the value only): ``(·, N, w) -> (·, N, o)``.

        A :class:`Scaled` block ``Σ_t s_t ⊙ c_t`` goes through as ``Σ_t s_t (diag(c_t) W^T)``: one matmul per
        distinct ``s_t`` over all such channels, and the ``(n, N, w)`` product is never formed."""
        v, *rest = self._raw
        out: list[Tensor | None] = [torch.nn.functional.linear(v, weight, bias)]
        groups: list[tuple[Tensor, list[tuple[int, Tensor]]]] = []  # (s, [(block, c)]) per distinct s
        for k, b in enumerate(rest, 1):
            if isinstance(b, Scaled):
                for s, c in b.terms:
                    group = next((g for g in groups if g[0] is s), None)
                    if group is None:
                        groups.append(group := (s, []))
                    group[1].append((k, c))
                out.append(None)
            else:
                out.append(None if b is None else b @ weight.T)
        o = weight.shape[0]
        for s, items in groups:
            consts = torch.cat([c for _, c in items]).squeeze(1)  # (n, w): every channel's c, all blocks
            n = consts.shape[0]
            m = (consts[:, :, None] * weight.T).permute(1, 0, 2).reshape(-1, n * o)  # (w, n·o)
            y = (s @ m).view(*s.shape[:-1], n, o).movedim(-2, 0)  # (n, N, o)
            for part, (k, _) in zip(y.split([c.shape[0] for _, c in items]), items, strict=True):
                out[k] = _add(out[k], part)
        return self._like(out)

    def affine(self, scale: Tensor | float, shift: Tensor | float = 0.0) -> Jet:
        """Elementwise ``h * scale + shift`` (shift on the value only)."""
        v, *rest = self.blocks
        return self._like([v * scale + shift, *(None if b is None else b * scale for b in rest)])

    def __add__(self, other: Jet | float) -> Jet:
        if not isinstance(other, Jet):  # a constant: shifts the value only
            return self._like([self.blocks[0] + other, *self.blocks[1:]])
        return self._like([_add(a, c) for a, c in zip(self.blocks, other.blocks, strict=True)])

    __radd__ = __add__

    def __neg__(self) -> Jet:
        return self._like([None if b is None else -b for b in self.blocks])

    def __sub__(self, other: Jet | float) -> Jet:
        return self + (-other)

    def __rsub__(self, other: float) -> Jet:
        return (-self) + other

    def __getitem__(self, cols: slice | Sequence[int]) -> Jet:
        """Feature columns: ``(·, N, w) -> (·, N, k)``."""
        return self._like([None if b is None else b[..., cols] for b in self.blocks])

    @staticmethod
    def cat(jets: Sequence[Jet]) -> Jet:
        """Concatenate features of jets sharing a spec: ``(·, N, w_i) -> (·, N, Σ w_i)``."""
        n = jets[0].value.shape[0]
        blocks = []
        for k in range(5):
            parts = [j.blocks[k] for j in jets]
            if all(p is None for p in parts):
                blocks.append(None)
                continue
            c = next(p.shape[0] for p in parts if p is not None)
            full = [
                j.value.new_zeros((c, n, j.value.shape[-1])) if p is None else p.expand(c, n, -1) if k else p
                for j, p in zip(jets, parts, strict=True)
            ]
            blocks.append(torch.cat(full, dim=-1))
        return Jet(blocks, jets[0].spec)

    # ---- nonlinear maps ------------------------------------------------------------------------------------
    def map(self, derivs: Derivs) -> Jet:
        """Elementwise ``σ(h)`` given ``derivs(h, k) -> [σ, σ', ..., σ^(k)]`` (Faà di Bruno).

        Each output channel is ``Σ_t σ^(t)(h) ⊙ c_t``. Where every derivative channel is the same for all points
        (after the first Linear), a channel of one such term is kept as a :class:`Scaled` block."""
        spec = self.spec
        v, h1, h2, hs, h3 = self.blocks
        if h1 is None and h2 is None and hs is None and h3 is None:  # derivatives all zero
            return self._like([derivs(v, 0)[0], None, None, None, None])
        constant = h3 is None and not spec.higher_terms and all(b is None or b.shape[1] == 1 for b in (h1, h2, hs))
        s = derivs(v, spec.order)
        s2 = s[2] if spec.order >= 2 else None  # (first-order sums: their second-order parts, dots, are all None)
        ch = self._channels() if spec.order >= 2 else []
        z1 = _terms([(s[1], h1)], constant)
        z2 = zs = z3 = None
        if spec.blocks[1].stop > spec.blocks[1].start:
            i, j = spec.pair_index
            pairs = _stack([_mul(ch[a], ch[b]) for a, b in zip(i, j, strict=True)], v)
            z2 = _terms([(s2, pairs), (s[1], h2)], constant)
        if spec.sums:
            dots = _stack([_dot(ch, i, j, w, h1, spec) if i else None for i, j, w in spec.sum_pairs], v)
            zs = _terms([(s2, dots), (s[1], hs)], constant)
        if spec.higher_terms:
            z3 = _stack([_sum(_mul(s[nb], _prod(ch, chans)) for nb, chans in terms) for terms in spec.higher_terms], v)
        return self._like([s[0], z1, z2, zs, z3])

    def __mul__(self, other: Jet | float) -> Jet:
        """Elementwise product of two jets (Leibniz), or of a jet and a constant number."""
        if not isinstance(other, Jet):
            if not isinstance(other, (int, float)):
                raise TypeError(f"a jet multiplies a jet or a number, not {type(other).__name__}")
            return self._like([None if b is None else b * other for b in self.blocks])
        spec = self.spec
        a0, a1, a2, as_, _ = self.blocks
        c0, c1, c2, cs, _ = other.blocks
        ca, cc = (self._channels(), other._channels()) if spec.order >= 2 else ([], [])
        z1 = _add(_mul(a1, c0), _mul(a0, c1))
        z2 = zs = z3 = None
        if spec.blocks[1].stop > spec.blocks[1].start:
            i, j = spec.pair_index
            cross = [_add(_mul(ca[p], cc[q]), _mul(ca[q], cc[p])) for p, q in zip(i, j, strict=True)]
            z2 = _add(_add(_mul(a2, c0), _mul(a0, c2)), _stack(cross, a0))
        if spec.sums:
            zs = torch.stack([
                _dense(_sum([
                    _mul(None if as_ is None else as_[k], c0),
                    _mul(a0, None if cs is None else cs[k]),
                    *(_scale(_add(_mul(ca[p], cc[q]), _mul(ca[q], cc[p])), wt)
                      for p, q, wt in zip(i, j, w, strict=True)),
                ]), a0)
                for k, (i, j, w) in enumerate(spec.sum_pairs)
            ])  # fmt: skip
        if spec.higher_splits:
            z3 = _stack([_sum(_mul(ca[p], cc[q]) for p, q in terms) for terms in spec.higher_splits], a0)
        return self._like([a0 * c0, z1, z2, zs, z3])

    __rmul__ = __mul__


class Scaled:
    """A block ``Σ_t s_t ⊙ c_t`` left unmultiplied: ``s_t (N, w)`` per point, ``c_t (n, 1, w)`` constant."""

    __slots__ = ("terms",)

    def __init__(self, terms: Sequence[tuple[Tensor, Tensor]]) -> None:
        self.terms = tuple(terms)

    @property
    def shape(self) -> tuple[int, ...]:
        s, c = self.terms[0]
        return (c.shape[0], *s.shape)

    def dense(self) -> Tensor:
        return _sum(s * c for s, c in self.terms)  # type: ignore[return-value]


def _terms(terms: list[tuple[Tensor | None, Tensor | None]], factored: bool) -> Scaled | Tensor | None:
    """``Σ_t s_t ⊙ c_t`` over the terms with a nonzero ``c_t`` (``None`` if none). With ``factored`` (constant
    ``c_t``) a single term stays :class:`Scaled`, which a Linear takes at no extra cost; a sum is multiplied out,
    since each distinct ``s_t`` would cost the next Linear a matmul of its own."""
    terms = [(s, c) for s, c in terms if c is not None]  # (s_t is None only where c_t is)
    if not terms:
        return None
    return Scaled(terms) if factored and len(terms) == 1 else Scaled(terms).dense()


# ---- None-as-zero arithmetic ---------------------------------------------------------------------------------
def _mul(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return None if a is None or b is None else a * b


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return b if a is None else a if b is None else a + b


def _sum(xs: Iterable[Tensor | None]) -> Tensor | None:
    out = None
    for x in xs:
        out = _add(out, x)
    return out


def _dense(x: Tensor | None, like: Tensor) -> Tensor:
    """``x`` at the full shape of ``like`` (zeros for ``None``)."""
    return like.new_zeros(like.shape) if x is None else x.expand(like.shape)


def _stack(xs: list[Tensor | None], like: Tensor) -> Tensor | None:
    """Stack channels, broadcasting them to a common shape; ``None`` if all are zero."""
    if all(x is None for x in xs):
        return None
    shape = torch.broadcast_shapes(*(x.shape for x in xs if x is not None))
    return torch.stack([like.new_zeros(shape) if x is None else x.expand(shape) for x in xs])


def _prod(ch: list[Tensor | None], chans: list[int]) -> Tensor | None:
    out = ch[chans[0]]
    for c in chans[1:]:
        out = _mul(out, ch[c])
    return out


def _scale(x: Tensor | None, w: float) -> Tensor | None:
    return x if x is None or w == 1.0 else x * w


def _dot(
    ch: list[Tensor | None], i: list[int], j: list[int], w: list[float], h1: Tensor | None, spec: ChannelSpec
) -> Tensor | None:
    """``Σ_k w_k h_(i_k) h_(j_k)`` over a collapsed channel's second-order parts; one reduction when it is
    ``w Σ_all h_i²``."""
    if h1 is not None and i == j == list(range(spec.blocks[0].start, spec.blocks[0].stop)) and len(set(w)) == 1:
        return _scale((h1 * h1).sum(0), w[0])
    return _sum(_scale(_mul(ch[p], ch[q]), wt) for p, q, wt in zip(i, j, w, strict=True))
