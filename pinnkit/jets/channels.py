"""Which derivative channels a jet carries, and in which order: :class:`ChannelSpec`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

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

    def _higher_terms(self) -> list[list[tuple[int, list[int], int]]]:
        """For each order >= 3 channel: Faà di Bruno terms ``(number of blocks, block channels, multiplicity)``.

        Set partitions that give the same product of channels are one term with a count: a diagonal
        ``(i, i, i, i)`` has 15 partitions but 5 distinct terms (``h_iiii``, ``4 h_i h_iii``, ``3 h_ii²``, ...)."""
        out = []
        for a in self.keys[self.blocks[3]]:
            counts: dict[tuple[int, tuple[int, ...]], int] = {}
            for part in _set_partitions(list(range(len(a)))):
                chans = tuple(sorted(self.index[tuple(sorted(a[p] for p in block))] for block in part))
                counts[(len(part), chans)] = counts.get((len(part), chans), 0) + 1
            out.append([(nb, list(chans), n) for (nb, chans), n in counts.items()])
        return out

    def _higher_splits(self) -> list[list[tuple[int, int, int]]]:
        """For each order >= 3 channel: Leibniz terms ``(channel of a, channel of c, multiplicity)`` over position
        subsets, equal splits counted once."""
        out = []
        for a in self.keys[self.blocks[3]]:
            n = len(a)
            counts: dict[tuple[int, int], int] = {}
            for r in range(n + 1):
                for left in combinations(range(n), r):
                    la = tuple(sorted(a[p] for p in left))
                    ra = tuple(sorted(a[p] for p in range(n) if p not in left))
                    key = (self.index[la], self.index[ra])
                    counts[key] = counts.get(key, 0) + 1
            out.append([(p, q, k) for (p, q), k in counts.items()])
        return out

    @property
    def order(self) -> int:
        return max([len(a) for a in self.plain] + [len(a) for terms in self.sums for a, _ in terms] + [0])
