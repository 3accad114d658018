"""Truncated Taylor jets: a hidden tensor together with only the derivative channels a request needs.

A :class:`Jet` holds ``data (C, N, w)``: channel 0 is the value ``h``, the others are derivatives of ``h``
along input axes, in the order fixed by a :class:`ChannelSpec`:

- ``(i,)``: first derivatives ``∂h/∂x_i`` for the axes some entry needs;
- ``(i, j)`` (``i <= j``): second derivatives, only the pairs asked for (or implied by a third-order entry);
- a *collapsed* channel ``Σ_(a,w)∈P w ∂^a h`` for a requested weighted sum ``P`` of first- and second-order
  derivatives (a Laplacian is one channel, whatever d; heat's ``u_t - κ u_xx`` is one channel);
- ``(i, j, k)``, ``(i, j, k, l)``: third and fourth derivatives (KdV's ``u_xxx``, a plate's ``u_xxyy``), with every
  lower sub-derivative they need.

Propagation rules (checked against autograd in float64 by the tests):

- linear ``W h + b``: every channel through ``W`` in one matmul, the bias on the value only; a channel that is
  ``σ^(t)(h) ⊙ c`` with ``c`` the same at every point (after the first activation: the first Linear's columns)
  goes through as ``σ^(t)(h) (diag(c) W^T)``, so the ``(n, N, w)`` product is never formed (:class:`Scaled`);
- elementwise ``σ(h)``: Faà di Bruno, ``z_i = σ' h_i``, ``z_ij = σ'' h_i h_j + σ' h_ij``,
  collapsed ``z_P = σ'' Σ_(ij,w)∈P w h_i h_j + σ' h_P`` (first-order parts enter through ``h_P`` alone),
  third and fourth order over the set partitions (equal products grouped);
- product ``a ⊙ c``: Leibniz, ``z_ij = a_ij c + a_i c_j + a_j c_i + a c_ij`` and likewise per channel;
- sums and differences channel-wise.

The cost grows with the number of channels, not with d², and there is no double backward: the whole
propagation is one forward graph, so ``torch.compile`` handles it and the parameter gradient is one backward.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .blocks import Scaled, _add, _dense, _dot, _mul, _prod, _scale, _stack, _sum, _terms
from .channels import ChannelSpec, Derivs, Key


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
    def seed(x: Tensor, spec: ChannelSpec, directions: Tensor | None = None) -> Jet:
        """The input jet of ``x (N, d)``: value ``x``, ``∂x/∂x_i = e_i`` (broadcast), a collapsed channel the
        weights of its first-order parts ``Σ w_i e_i`` (broadcast), higher channels zero.

        ``directions (S, d)``: axes ``d .. d+S-1`` are these directions (the first-order channel of axis ``d + s``
        is ``v_s``, so its order-k channel is the directional derivative ``D^k h[v_s, ..., v_s]``)."""
        b1 = spec.blocks[0]
        first = collapsed = None
        if b1.stop > b1.start:
            d = x.shape[-1]
            axes = [spec.keys[k][0] for k in range(b1.start, b1.stop)]  # sorted: the real axes first
            real = [a for a in axes if a < d]
            first = torch.nn.functional.one_hot(torch.tensor(real, device=x.device, dtype=torch.long), d).to(x.dtype)
            if len(real) < len(axes):
                first = torch.cat([first, directions[[a - d for a in axes[len(real) :]]].to(x.dtype)])
            first = first[:, None, :]  # (n1, 1, d)
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
            fdb = spec.higher_terms  # per channel: (number of blocks, block channels, multiplicity)
            z3 = _stack([_sum(_scale(_mul(s[nb], _prod(ch, c)), k) for nb, c, k in terms) for terms in fdb], v)
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
            z3 = _stack([_sum(_scale(_mul(ca[p], cc[q]), k) for p, q, k in terms) for terms in spec.higher_splits], a0)
        return self._like([a0 * c0, z1, z2, zs, z3])

    __rmul__ = __mul__
