"""Loss weighting strategies: gradient-norm balancing of the terms, causal weighting in time, residual-based
attention on the points.

- :class:`GradNormBalance` (Wang, Teng & Perdikaris 2021; jaxpi's ``grad_norm``): every ``every`` steps, with
  ``g_i = ||∇_θ L_i||``, the weights move towards ``λ_i = Σ_j g_j / g_i`` by an exponential moving average
  ``λ <- α λ + (1 - α) λ_new``, so no term's gradient dominates the others.
- :func:`causal_loss` (Wang, Sankaran & Perdikaris 2022, "Respecting causality"): the interior residual is split
  into ``M`` time chunks with mean losses ``L_i``; chunk ``i`` is weighted ``w_i = exp(-ε Σ_(k<i) L_k)`` (no
  gradient through ``w``), so later times train only once earlier ones are resolved.
- :class:`ResidualAttention` (RBA: Anagnostopoulos et al. 2024; the exponential potential of vRBA: Toscano et al.
  2025): per-point multipliers ``λ`` of an interior term's residual, ``L = mean((λ_i r_i)²)``, moved every step by
  ``λ <- γ λ + η q(|r|)`` (no gradient through ``λ``) with ``q = |r| / max|r|`` (``linear``) or ``q = exp(β (|r| -
  max|r|))``, ``β = log(step + 2) / (c · max|r|)`` (``exponential``). ``λ`` belongs to one point set: it starts at 1
  on every new set, so the points must stay for many steps (``data.resample_every`` K > 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .pdes import PDE

LIVE = 1e-6  # gradient norms below this fraction of the largest leave their term's weight as it is


class GradNormBalance:
    """Gradient-norm loss balancing; ``weights`` (a ``(n_terms,)`` tensor) is kept by the caller (a module
    buffer, so checkpoints hold it)."""

    def __init__(self, every: int, alpha: float = 0.9) -> None:
        every, alpha = int(float(every)), float(alpha)
        if every < 1 or not 0 <= alpha < 1:
            raise ValueError(f"grad-norm balancing needs every >= 1 and 0 <= alpha < 1, got {every}, {alpha}")
        self.every, self.alpha = int(every), float(alpha)

    def due(self, step: int) -> bool:
        return step % self.every == 0

    @staticmethod
    def grad_norms(losses: Mapping[str, Tensor], params: Iterable[Tensor]) -> Tensor:
        """``(n_terms,)`` gradient norms ``||∇_θ L_i||`` (the graphs are kept for the real backward)."""
        params = [p for p in params if p.requires_grad]
        norms = []
        for loss in losses.values():
            grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
            norms.append(torch.sqrt(sum(g.square().sum() for g in grads if g is not None)))
        return torch.stack(norms).detach()

    def update(self, weights: Tensor, norms: Tensor) -> Tensor:
        """The moved weights, given the current ``weights`` and gradient ``norms`` ``(n_terms,)``.

        A term whose gradient is negligible (``<= 1e-6`` of the largest: a condition already met, e.g. periodicity
        made exact by the network's embedding) keeps its weight rather than having it grow without bound.
        """
        live = norms > LIVE * norms.max()
        new = torch.where(live, norms.sum() / norms.clamp_min(torch.finfo(norms.dtype).tiny), weights)
        return self.alpha * weights + (1 - self.alpha) * new


def causal_loss(
    residual: Tensor, t: Tensor, lower: float, upper: float, chunks: int, eps: float
) -> tuple[Tensor, Tensor]:
    """Causally weighted mean square residual and the chunk weights ``(chunks,)``.

    ``residual (N,)`` or ``(N, k)`` at points with times ``t (N,)`` in ``[lower, upper]``.
    """
    r2 = residual.square().reshape(residual.shape[0], -1).mean(-1)
    idx = ((t - lower) / (upper - lower) * chunks).long().clamp(0, chunks - 1)
    sums = r2.new_zeros(chunks).index_add(0, idx, r2)
    counts = r2.new_zeros(chunks).index_add(0, idx, torch.ones_like(r2)).clamp_min(1)  # (bincount: a graph break)
    chunk = sums / counts
    with torch.no_grad():
        w = torch.exp(-eps * torch.cat([chunk.new_zeros(1), chunk.cumsum(0)[:-1]]))
    return (w * chunk).mean(), w


@dataclass(frozen=True)
class CausalWeighting:
    """Causal weighting of the interior residual over ``chunks`` time chunks with tolerance ``eps`` (``chunks =
    0``: off); see :func:`causal_loss`."""

    chunks: int = 0
    eps: float = 1.0

    def check(self, pde: PDE) -> None:
        """Refuse a PDE without time, or bad settings, naming them."""
        if self.chunks and (pde.domain.time is None or self.chunks < 1 or self.eps < 0):
            raise ValueError(
                f"causal weighting needs a time-dependent PDE ({pde.name} has axes {pde.axes}), chunks >= 1 (0: "
                f"off) and eps >= 0; got {{'chunks': {float(self.chunks)}, 'eps': {float(self.eps)}}}"
            )

    def __call__(self, residual: Tensor, x: Tensor, pde: PDE) -> tuple[Tensor, Tensor]:
        """The weighted loss and chunk weights of ``residual`` at points ``x (N, d)`` of ``pde``'s domain."""
        i = pde.axes.index(pde.domain.time)
        lo, hi = pde.domain.lower[i], pde.domain.upper[i]
        return causal_loss(residual, x[..., i].reshape(-1), lo, hi, int(self.chunks), float(self.eps))


@dataclass(frozen=True)
class ResidualAttention:
    """Residual-based attention with step ``eta`` (0: off), memory ``gamma`` (``λ`` stays below ``eta / (1 -
    gamma)``), ``potential`` ``linear`` (RBA) or ``exponential`` (vRBA) and its temperature ``c``."""

    eta: float = 0.0
    gamma: float = 0.999
    potential: str = "linear"
    c: float = 1.0

    POTENTIALS: ClassVar[tuple[str, ...]] = ("linear", "exponential")

    def __post_init__(self) -> None:
        if self.eta < 0 or not 0 <= self.gamma < 1 or self.c <= 0 or self.potential not in self.POTENTIALS:
            raise ValueError(
                f"attention needs eta >= 0 (0: off), 0 <= gamma < 1, c > 0 and potential in {self.POTENTIALS}; got "
                f"eta={self.eta}, gamma={self.gamma}, c={self.c}, potential={self.potential!r}"
            )

    @property
    def active(self) -> bool:
        return self.eta > 0

    def update(self, lam: Tensor, residual: Tensor, step: Tensor) -> Tensor:
        """The moved multipliers ``(n,)`` given ``lam (n,)``, the residual ``(n,)`` or ``(n, k)`` at the same points
        and the global ``step`` (a 0-d tensor, so a compiled step does not bake it in)."""
        a = residual.detach().reshape(residual.shape[0], -1).norm(dim=-1)
        rel = a / a.max().clamp_min(torch.finfo(a.dtype).tiny)
        q = rel if self.potential == "linear" else torch.exp(torch.log(step + 2.0) / self.c * (rel - 1.0))
        return self.gamma * lam + self.eta * q
