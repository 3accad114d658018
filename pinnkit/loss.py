"""The PINN loss: one fused derivative call, every term's residual and mean square, the weighted total.

:class:`PINNLoss` is a pure function of a :class:`~pinnkit.points.Batch`, the network's parameters and the
grad-norm weights: what ``compile_step=true`` compiles whole, what training steps call and what the benchmarks
time. Logged as ``train/loss_<term>``; the total is ``Σ loss_weight · grad-norm weight · loss``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from .derivatives import Backend, Derivatives
from .derivatives.names import Request, make_request
from .pdes import PDE, Term
from .points import Batch
from .weighting import CausalWeighting


class PINNLoss:
    """The loss of ``pde``'s terms under ``derivative``, for the network every call is given.

    ``weights``: loss weights by term name (a term's own ``weight`` by default; unknown names are an error);
    ``causal``: causal weighting of the interior term over time chunks (off by default).
    """

    def __init__(
        self,
        pde: PDE,
        derivative: Backend,
        weights: Mapping[str, float] | None = None,
        causal: CausalWeighting | None = None,
    ) -> None:
        self.pde, self.derivative = pde, derivative
        self.terms: list[Term] = pde.terms()
        names = [t.name for t in self.terms]
        unknown = set(weights or {}) - set(names)
        if unknown:
            raise ValueError(f"loss weights name unknown terms {sorted(unknown)}; the terms of {pde.name} are {names}")
        self.weights = {t.name: float((weights or {}).get(t.name, t.weight)) for t in self.terms}
        self.causal = causal or CausalWeighting()
        self.causal.check(pde)
        # every derivative request of the run, parsed once: the step (compiled with compile_step) only looks up
        self.fused_needs = tuple(dict.fromkeys(n for t in self.terms for n in t.needs))
        self.requests: dict[tuple[str, ...], Request] = {
            needs: make_request(needs, pde.fields, pde.axes)
            for needs in [self.fused_needs, *(t.needs for t in self.terms)]
        }

    def residual(self, net: nn.Module, term: Term, x: Tensor, d: Derivatives | None = None) -> Tensor:
        """``term``'s residual at points ``x (..., d)``: ``(...,)`` or ``(..., k)`` (``d``: derivatives at ``x``
        already computed)."""
        if d is None:
            d = self.derivative(net, x, self.requests[term.needs])
        return term.residual(d, x)

    def derivatives(self, net: nn.Module, batch: Batch) -> dict[str, Derivatives]:
        """Every term's values and derivatives at its points.

        A fused batch (``batch.flat``) takes one backend call over all points with the union of the terms'
        needs, split back per term: one network pass instead of one per term (initial and boundary points get
        the interior's derivatives too, a few percent more work, far less per-call overhead). Edge terms read
        the rows of their host's result (``batch.tails``).
        """
        pts = batch.points
        if batch.flat is None:
            return {t.name: self.derivative(net, pts[t.name], self.requests[t.needs]) for t in self.terms}
        whole = self.derivative(net, batch.flat, self.requests[self.fused_needs])
        out = {n: whole.take(rows, tuple(pts[n].shape[:-1])) for n, rows in batch.rows.items()}
        for n, (host, rows) in batch.tails.items():
            out[n] = out[host].take(rows, (rows.stop - rows.start,))
        return out

    def term_loss(
        self, net: nn.Module, term: Term, x: Tensor, causal: bool = False, d: Derivatives | None = None
    ) -> Tensor:
        """Mean square residual of ``term`` at points ``x (..., d)``; causally weighted over time chunks for the
        interior term when ``causal`` and the run asks for it."""
        return self._term_loss(net, term, x, causal, d)[0]

    def _term_loss(
        self, net: nn.Module, term: Term, x: Tensor, causal: bool, d: Derivatives | None
    ) -> tuple[Tensor, Tensor | None]:
        r = self.residual(net, term, x, d)
        if causal and self.causal.chunks and term.region == "interior":
            return self.causal(r, x, self.pde)
        return r.square().mean(), None

    def term_losses(self, net: nn.Module, batch: Batch) -> tuple[dict[str, Tensor], Tensor | None]:
        """Every term's loss (one fused derivative call) and the causal chunk weights (``None`` without causal
        weighting)."""
        derivs = self.derivatives(net, batch)
        losses, weights = {}, None
        for t in self.terms:
            losses[t.name], w = self._term_loss(net, t, batch.points[t.name], True, derivs[t.name])
            weights = w if w is not None else weights
        return losses, weights

    def total(self, losses: Mapping[str, Tensor], balance_weights: Tensor) -> Tensor:
        """``Σ loss_weight · grad-norm weight · loss`` over the terms; ``balance_weights (n_terms,)``."""
        return sum(self.weights[n] * balance_weights[k] * v for k, (n, v) in enumerate(losses.items()))

    def compiled(self) -> Callable[[nn.Module, Batch, Tensor], tuple[Tensor, dict[str, Tensor], Tensor | None]]:
        """This loss compiled whole (``compile_step=true``): derivatives, residuals, means and the sum, one graph."""
        if self.derivative.uses_autograd:
            raise ValueError(
                f"compile_step=true compiles the whole loss, derivatives included; backend {self.derivative.name!r} "
                "takes nested reverse-mode derivatives, which torch.compile cannot differentiate again. Use "
                "derivative=taylor, or compile_step=false"
            )
        return torch.compile(self.__call__, dynamic=False)

    def __call__(
        self, net: nn.Module, batch: Batch, balance_weights: Tensor
    ) -> tuple[Tensor, dict[str, Tensor], Tensor | None]:
        """``(total, per-term losses, causal chunk weights or None)`` of ``net`` at ``batch``."""
        losses, causal = self.term_losses(net, batch)
        return self.total(losses, balance_weights), losses, causal
