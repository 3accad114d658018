"""Arithmetic on a jet's blocks, where a block may be ``None`` (identically zero) or :class:`Scaled`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from .channels import ChannelSpec


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
