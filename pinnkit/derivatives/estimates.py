"""Stochastic estimates of a Laplacian or a biharmonic: needs written ``"~" + <sum>``, served from random directions.

An exact Laplacian in d dimensions costs d second-order channels (or d nested reverse passes); an estimate from
``S`` random directions costs ``S``, whatever d (Hutchinson's trace estimator; the stochastic Taylor derivative
estimator for higher orders). With ``v`` drawn so that ``E[v vᵀ] = I`` (Rademacher or standard Gaussian):

- ``E[D²u[v, v]] = Σ_i u_ii``: the Laplacian over the directions' support (``"~u_xx+u_yy"``, one weight ``c``
  for every part: ``c · mean_s D²u[v_s, v_s]``);
- for Gaussian ``v``, ``E[D⁴u[v, v, v, v]] = 3 Σ_(i,j) u_iijj = 3 Δ²u``: the biharmonic (``"~u_xxxx+2*u_xxyy+u_yyyy"``,
  :func:`biharmonic`), ``c/3 · mean_s D⁴u[v_s, ...]``. Rademacher directions would give ``3Δ²u - 2 Σ u_iiii``: refused;
- any other sum of derivatives of orders 1..4 (``"~u_xy+0.5*u_xxyy+u_z"``), for Gaussian ``v``: every order's
  directional derivative ``D^k u[v^k]`` times a Hermite polynomial of ``v`` (:mod:`pinnkit.derivatives.hermite`), one
  jet of the highest order per direction for all terms.

The directions are an input of every call, ``(G, K, d)``: ``G`` independent groups of ``K`` directions, zero off
the support, the same for every point of the call. A result holds one estimate per group, ``(N, G)``; ``d[name]`` is
their mean, and :meth:`~pinnkit.derivatives.result.Derivatives.group` reads one group, so a loss can multiply two
independent estimates (an unbiased square: ``E[r̂₁ r̂₂] = r²``, while ``E[r̂²] = r² + Var r̂``). Training draws them
each step from ``(seed, step)`` (:mod:`pinnkit.points`); ``taylor`` carries them as extra jet directions (a
Laplacian's groups as collapsed channels), every other backend through Hessian-vector products
(:func:`by_hvp`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .hermite import combine, hermite_weights
from .names import FULL_TOKENS, Request, Sum, make_request, parse_sum

KINDS = ("rademacher", "gaussian")


@dataclass(frozen=True)
class Estimate:
    """A requested estimate: ``field``'s Laplacian (``order`` 2) or biharmonic (``order`` 4) over ``axes``, times
    ``scale`` per directional derivative (the sum's weight; divided by 3 for the biharmonic); or, with ``terms``
    (``((axes, weight), ...)``), a general operator of highest order ``order`` with Hermite weights."""

    name: str
    field: int
    order: int
    axes: tuple[int, ...]
    scale: float
    terms: tuple = ()

    @property
    def general(self) -> bool:
        return bool(self.terms)

    def per_direction(self, chain: Sequence[Tensor], flat: Tensor) -> Tensor:
        """The estimate of each direction ``(S, N)`` from ``chain[k-1] = D^k u[v^k] (S, N)`` (k up to ``order``;
        only the last is read unless general) at directions ``flat (S, d)``."""
        if self.general:
            return combine(chain, hermite_weights(self.terms, self.order, flat))
        return self.scale * chain[self.order - 1]

    @property
    def key(self) -> tuple[str, str]:
        return ("est", self.name)


@dataclass(frozen=True)
class Estimator:
    """How a PDE's Laplacian or biharmonic is estimated (its config's ``estimator``): ``samples`` random directions
    per step (0: exact), of kind ``directions`` (``rademacher`` or ``gaussian``; a biharmonic takes ``gaussian``);
    ``unbiased``: split them into two independent halves and take the mean of ``r̂₁ r̂₂`` as a term's loss."""

    samples: int = 0
    directions: str = "rademacher"
    unbiased: bool = False

    def __post_init__(self) -> None:
        if self.directions not in KINDS:
            raise ValueError(f"estimator.directions must be one of {list(KINDS)}, got {self.directions!r}")
        if int(self.samples) < 0 or (self.unbiased and (self.samples < 2 or self.samples % 2)):
            raise ValueError(
                f"estimator.samples must be >= 0 (0: exact), and even and >= 2 with unbiased=true, got {self.samples}"
            )

    @property
    def active(self) -> bool:
        return self.samples > 0

    @property
    def groups(self) -> int:
        return 2 if self.unbiased else 1

    def need(self, name: str) -> str:
        """``name`` (a Laplacian or biharmonic sum) as this estimator asks for it: ``"~" + name``, or exact."""
        return "~" + name if self.active else name

    def check(self, estimates: Sequence[Estimate]) -> None:
        if any(e.order == 4 or e.general for e in estimates) and self.directions != "gaussian":
            names = [e.name for e in estimates if e.order == 4 or e.general]
            raise ValueError(f"{names}: a biharmonic or a general operator is estimated from gaussian directions "
                             f"only (rademacher's moments differ); set estimator.directions=gaussian")  # fmt: skip

    def draw_at(
        self, seed: int, step: int, support: Sequence[int], d: int, dtype: torch.dtype, device: torch.device
    ) -> Tensor:
        """The directions of ``step`` ``(groups, samples/groups, d)``, from a generator seeded by ``(seed, step)``:
        the same on every rank and after a resume."""
        gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + step + 2**40)
        return draw(gen, self.directions, self.groups, self.samples // self.groups, support, d, dtype, device)


def exact_needs(needs: Sequence[str]) -> tuple[str, ...]:
    """``needs`` with every estimate asked for exactly (``"~"`` dropped): for calls without directions."""
    return tuple(n.removeprefix("~") for n in needs)


def exact_request(req: Request) -> Request:
    """``req`` with its estimates computed exactly instead (the same request when it has none)."""
    if not req.estimates:
        return req
    names = [e.name for e in req.entries if (e.field, e.axes) not in req.part_only]
    names += [s.name for s in req.sums] + [e.name[1:] for e in req.estimates]
    names += [t for t, k in FULL_TOKENS.items() if k == req.full_order]
    return make_request(names, req.fields, req.axes)


def biharmonic(field: str, axes: Sequence[str]) -> str:
    """The need name of ``Δ²field`` over ``axes``: ``Σ_i u_iiii + 2 Σ_(i<j) u_iijj``."""
    parts = [f"{field}_{a * 4}" for a in axes]
    parts += [f"2.0*{field}_{a * 2}{b * 2}" for k, a in enumerate(axes) for b in axes[k + 1 :]]
    return "+".join(parts)


def parse_estimate(name: str, fields: Sequence[str], axes: Sequence[str]) -> Estimate:
    """Parse ``"~<sum>"``: a Laplacian ``c Σ_i u_ii`` or a biharmonic ``c Δ²u`` over some axes (their special
    forms), else any sum of one field's derivatives of orders 1..4 (a general operator, Hermite weights)."""
    s = parse_sum(name[1:], fields, axes) if "+" in name else None
    if s is not None and s.order <= 4:
        est = _laplacian(name, s) or _biharmonic(name, s)
        if est is None:
            support = tuple(sorted({i for p in s.parts for i in p}))
            est = Estimate(name, s.field, s.order, support, 1.0, s.terms)
        return est
    raise KeyError(
        f"{name!r}: an estimated need is '~' and a sum of two or more derivatives of one field, of orders 1 to 4, "
        f"e.g. '~u_xx+u_yy', '~u_xxxx+2.0*u_xxyy+u_yyyy' or '~u_xy+0.5*u_xxyy' (see pinnkit.derivatives.estimates)"
    )


def _laplacian(name: str, s: Sum) -> Estimate | None:
    if all(len(p) == 2 and p[0] == p[1] for p in s.parts) and len(set(s.weights)) == 1:
        return Estimate(name, s.field, 2, tuple(p[0] for p in s.parts), s.weights[0])
    return None


def _biharmonic(name: str, s: Sum) -> Estimate | None:
    support = tuple(sorted({i for p in s.parts for i in p}))
    c = s.weights[0]
    want = {(i,) * 4: c for i in support}
    want |= {(i, i, j, j): 2 * c for k, i in enumerate(support) for j in support[k + 1 :]}
    if dict(s.terms) == want:
        return Estimate(name, s.field, 4, support, c / 3)
    return None


def draw(
    gen: torch.Generator,
    kind: str,
    groups: int,
    per_group: int,
    support: Sequence[int],
    d: int,
    dtype: torch.dtype,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Directions ``(groups, per_group, d)`` drawn from ``gen``: Rademacher (±1) or standard Gaussian on the
    ``support`` axes, zero elsewhere."""
    if kind not in KINDS:
        raise ValueError(f"unknown direction kind {kind!r}; valid: {list(KINDS)}")
    shape = (groups, per_group, len(support))
    if kind == "rademacher":
        on = torch.randint(0, 2, shape, generator=gen, device=device).to(dtype) * 2 - 1
    else:
        on = torch.randn(shape, generator=gen, device=device, dtype=dtype)
    v = on.new_zeros(groups, per_group, d)
    v[..., list(support)] = on
    return v


def check_directions(directions: Tensor | None, estimates: Sequence[Estimate], x: Tensor) -> Tensor:
    """``directions (G, K, d)`` for ``estimates`` at points ``x (N, d)``, or a clear error."""
    names = [e.name for e in estimates]
    if directions is None:
        raise ValueError(
            f"the estimated needs {names} take random directions: call with directions=<(G, K, d) tensor> "
            f"(pinnkit.derivatives.estimates.draw), or ask for the exact sums without '~'"
        )
    d = x.shape[-1]
    if directions.dim() != 3 or directions.shape[-1] != d or 0 in directions.shape:
        raise ValueError(f"directions must be (groups, per_group, d={d}) with groups, per_group >= 1, "
                         f"got {tuple(directions.shape)}")  # fmt: skip
    return directions.to(x.dtype)


def by_hvp(
    u: Tensor, x: Tensor, estimates: Sequence[Estimate], directions: Tensor, batched: bool = False
) -> dict[tuple, Tensor]:
    """Every estimate ``(N, G)`` through reverse mode: one gradient of the field, then per direction ``v`` the
    nested directional derivatives ``D^k u[v^k] = v·∇(D^(k-1) u[v^(k-1)])`` (Hessian-vector products, up to the
    estimate's order). ``batched``: each level is one ``grad`` call over all directions (``is_grads_batched``),
    else one per direction."""
    out = {}
    g, k, _ = directions.shape
    flat = directions.reshape(g * k, -1)  # (S, d)
    for e in estimates:
        (grad,) = torch.autograd.grad(u[:, e.field].sum(), x, create_graph=True)  # (N, d)
        if batched:
            chain = _chain_batched(grad, x, flat, e.order, first=e.general or e.order == 1)
        else:
            chain = _chain_each(grad, x, flat, e.order)
        out[e.key] = e.per_direction(chain, flat).T.reshape(-1, g, k).mean(-1)
    return out


def _chain_batched(grad: Tensor, x: Tensor, flat: Tensor, order: int, first: bool = True) -> list[Tensor | None]:
    """``[D^k u[v^k] (S, N) for k = 1..order]``, each level one batched ``grad`` call over all directions; level 1
    only with ``first`` (the higher levels start from the gradient, not from it)."""
    s = flat.shape[0]
    chain: list[Tensor | None] = [(grad @ flat.T).T if first else None]
    if order >= 2:  # level 2: ∇(v·∇u) = H v for all v in one call; further levels pick their own row
        go = flat[:, None, :].expand(s, *x.shape)
        (hv,) = torch.autograd.grad(grad, x, go, create_graph=True, allow_unused=True, is_grads_batched=True)
        chain.append(x.new_zeros(s, x.shape[0]) if hv is None else (hv * flat[:, None, :]).sum(-1))
    pick = torch.eye(s, dtype=x.dtype, device=x.device)[:, :, None].expand(s, s, x.shape[0])
    for _ in range(order - 2):
        t = chain[-1]
        (gt,) = torch.autograd.grad(t, x, pick, create_graph=True, allow_unused=True, is_grads_batched=True)
        chain.append(t.new_zeros(t.shape) if gt is None else (gt * flat[:, None, :]).sum(-1))
    return chain


def _chain_each(grad: Tensor, x: Tensor, flat: Tensor, order: int) -> list[Tensor]:
    """As :func:`_chain_batched`, each direction's chain on its own (a stacked tensor would send zeros back through
    every other's)."""
    per = []
    for v in flat:
        t = grad @ v
        levels = [t]
        for _ in range(order - 1):
            (gt,) = torch.autograd.grad(t.sum(), x, create_graph=True, allow_unused=True)
            t = x.new_zeros(x.shape[0]) if gt is None else gt @ v
            levels.append(t)
        per.append(levels)
    return [torch.stack([levels[i] for levels in per]) for i in range(order)]


__all__ = [
    "KINDS",
    "Estimate",
    "Estimator",
    "biharmonic",
    "by_hvp",
    "check_directions",
    "draw",
    "exact_needs",
    "exact_request",
    "parse_estimate",
]
