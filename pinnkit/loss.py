"""The PINN loss: one fused derivative call, every term's residual and mean square, the weighted total.

:class:`PINNLoss` is a pure function of a :class:`~pinnkit.points.Batch`, the network's parameters and the
grad-norm weights: what ``compile_step=true`` compiles whole, what training steps call and what the benchmarks
time. Logged as ``train/loss_<term>``; the total is ``Σ loss_weight · grad-norm weight · loss``.

:meth:`PINNLoss.residual_blocks` gives the same loss as per-point residual blocks for
:class:`~pinnkit.optim.ENGD` (a Gauss-Newton step needs the residuals one point at a time).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .derivatives import Backend, Derivatives
from .derivatives.estimates import Estimator, exact_needs
from .derivatives.names import Request, make_request
from .optim.engd import Residuals
from .pdes import PDE, Term
from .points import Batch
from .weighting import CausalWeighting, ResidualAttention


class PINNLoss:
    """The loss of ``pde``'s terms under ``derivative``, for the network every call is given.

    ``weights``: loss weights by term name (a term's own ``weight`` by default; unknown names are an error);
    ``causal``: causal weighting of the interior term over time chunks (off by default); ``attention``:
    residual-based attention on the interior terms' points (off by default; the caller keeps the multipliers).
    """

    def __init__(
        self,
        pde: PDE,
        derivative: Backend,
        weights: Mapping[str, float] | None = None,
        causal: CausalWeighting | None = None,
        attention: ResidualAttention | None = None,
    ) -> None:
        self.pde, self.derivative = pde, derivative
        self.terms: list[Term] = pde.loss_terms()
        names = [t.name for t in self.terms]
        unknown = set(weights or {}) - set(names)
        if unknown:
            raise ValueError(f"loss weights name unknown terms {sorted(unknown)}; the terms of {pde.name} are {names}")
        self.weights = {t.name: float((weights or {}).get(t.name, t.weight)) for t in self.terms}
        self.causal = causal or CausalWeighting()
        self.causal.check(pde)
        self.attention = attention or ResidualAttention()
        #: the terms residual-based attention weighs (the interior ones), when it is on
        self.attended = [t.name for t in self.terms if t.region == "interior"] if self.attention.active else []
        # every derivative request of the run, parsed once: the step (compiled with compile_step) only looks up
        self.fused_needs = tuple(dict.fromkeys(n for t in self.terms for n in t.needs))
        self.requests: dict[tuple[str, ...], Request] = {
            needs: make_request(needs, pde.fields, pde.axes)
            for needs in [self.fused_needs, *(t.needs for t in self.terms)]
        }
        # estimated ("~") needs: the training steps' calls take the step's random directions; every call without
        # them (validation, RAD scores, ENGD, checks) computes the same sums exactly
        self.exact = {needs: make_request(exact_needs(needs), pde.fields, pde.axes) for needs in self.requests}
        estimates = self.requests[self.fused_needs].estimates
        self.estimator: Estimator = getattr(pde, "estimator", Estimator())
        if estimates and not self.estimator.active:
            raise ValueError(f"{pde.name} asks for the estimates {[e.name for e in estimates]} but its "
                             f"estimator draws no directions: set pde.estimator.samples >= 1")  # fmt: skip
        self.estimator.check(estimates)
        #: the axes the step's directions span (``None``: no estimates)
        self.support: tuple[int, ...] | None = estimates[0].axes if estimates else None
        if self.support is not None and self.estimator.unbiased and (self.attention.active or self.causal.chunks):
            raise ValueError("estimator.unbiased=true multiplies two plain estimates: turn off attention and causal")

    def directions(self, seed: int, step: int, dtype: torch.dtype, device: torch.device) -> Tensor | None:
        """The random directions of ``step`` for the estimated needs ``(G, K, d)``, or ``None`` without any."""
        if self.support is None:
            return None
        return self.estimator.draw_at(seed, step, self.support, len(self.pde.axes), dtype, device)

    def residual(self, net: nn.Module, term: Term, x: Tensor, d: Derivatives | None = None) -> Tensor:
        """``term``'s residual at points ``x (..., d)``: ``(...,)`` or ``(..., k)`` (``d``: derivatives at ``x``
        already computed)."""
        if d is None:
            d = self.derivative(net, x, self.exact[term.needs])
        return term.residual(d, x)

    def derivatives(self, net: nn.Module, batch: Batch) -> dict[str, Derivatives]:
        """Every term's values and derivatives at its points.

        A fused batch (``batch.flat``) takes one backend call over all points with the union of the terms'
        needs, split back per term: one network pass instead of one per term (initial and boundary points get
        the interior's derivatives too, a few percent more work, far less per-call overhead). Edge terms read
        the rows of their host's result (``batch.tails``).
        """
        pts, v = batch.points, batch.directions
        if batch.flat is None:
            return {t.name: self.derivative(net, pts[t.name], self.requests[t.needs], directions=v) for t in self.terms}
        whole = self.derivative(net, batch.flat, self.requests[self.fused_needs], directions=v)
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
        self,
        net: nn.Module,
        term: Term,
        x: Tensor,
        causal: bool,
        d: Derivatives | None,
        lam: Tensor | None = None,
        step: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """``(loss, causal chunk weights or None, moved attention multipliers or None)``; with ``lam (n,)`` the
        residual is weighted per point by the multipliers after their update (:class:`ResidualAttention`)."""
        if d is not None and d.groups == 2 and self.estimator.unbiased:  # two independent estimates: E[r̂₁ r̂₂] = r²
            r1, r2 = (self.residual(net, term, x, d.group(k)) for k in (0, 1))
            return (r1 * r2).mean(), None, None
        r = self.residual(net, term, x, d)
        if lam is not None:
            lam = self.attention.update(lam, r, step)
            r = r * lam.reshape(-1, *(1,) * (r.dim() - 1))
        if causal and self.causal.chunks and term.region == "interior":
            return (*self.causal(r, x, self.pde), lam)
        return r.square().mean(), None, lam

    def term_losses(
        self,
        net: nn.Module,
        batch: Batch,
        multipliers: Mapping[str, Tensor] | None = None,
        step: Tensor | None = None,
    ) -> tuple[dict[str, Tensor], Tensor | None, dict[str, Tensor] | None]:
        """Every term's loss (one fused derivative call), the causal chunk weights (``None`` without causal
        weighting) and, given the attended terms' ``multipliers`` (``(n,)`` each) and the ``step``, their moved
        values (``None`` without)."""
        derivs = self.derivatives(net, batch)
        losses, weights, moved = {}, None, {}
        for t in self.terms:
            lam = multipliers.get(t.name) if multipliers is not None else None
            losses[t.name], w, new = self._term_loss(net, t, batch.points[t.name], True, derivs[t.name], lam, step)
            weights = w if w is not None else weights
            if new is not None:
                moved[t.name] = new
        return losses, weights, (moved if multipliers is not None else None)

    def total(self, losses: Mapping[str, Tensor], balance_weights: Tensor) -> Tensor:
        """``Σ loss_weight · grad-norm weight · loss`` over the terms; ``balance_weights (n_terms,)``."""
        return sum(self.weights[n] * balance_weights[k] * v for k, (n, v) in enumerate(losses.items()))

    def compiled(self) -> Callable[..., tuple[Tensor, dict[str, Tensor], Tensor | None, dict[str, Tensor] | None]]:
        """This loss compiled whole (``compile_step=true``): derivatives, residuals, means and the sum, one graph."""
        if self.derivative.uses_autograd:
            raise ValueError(
                f"compile_step=true compiles the whole loss, derivatives included; backend {self.derivative.name!r} "
                "takes nested reverse-mode derivatives, which torch.compile cannot differentiate again. Use "
                "derivative=taylor, or compile_step=false"
            )
        return torch.compile(self.__call__, dynamic=False)

    def __call__(
        self,
        net: nn.Module,
        batch: Batch,
        balance_weights: Tensor,
        multipliers: Mapping[str, Tensor] | None = None,
        step: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor], Tensor | None, dict[str, Tensor] | None]:
        """``(total, per-term losses, causal chunk weights or None, moved attention multipliers or None)`` of
        ``net`` at ``batch`` (see :meth:`term_losses`)."""
        losses, causal, moved = self.term_losses(net, batch, multipliers, step)
        return self.total(losses, balance_weights), losses, causal, moved

    def residual_blocks(
        self, owner: nn.Module, net: nn.Module, batch: Batch, balance_weights: Tensor
    ) -> list[Residuals]:
        """The loss at ``batch`` as one block of per-point residuals per term (:class:`~pinnkit.optim.Residuals`),
        functions of ``owner``'s trainable parameters in their order (``owner`` holds the PDE as ``pde`` and the net
        as ``net``, as :class:`~pinnkit.training.PINNModule` does); ``Σ |block|²`` is the weighted total."""
        if self.causal.chunks:
            raise ValueError("per-point residual blocks (ENGD) take plain mean squares: causal weighting is off there")
        wrapper = PointResidual(self, net)
        names = [n for n, p in owner.named_parameters() if p.requires_grad]
        blocks = []
        for k, t in enumerate(self.terms):
            x = batch.points[t.name]

            def fn(params: tuple[Tensor, ...], xi: Tensor, k: int = k) -> Tensor:
                return functional_call(wrapper, dict(zip(names, params, strict=True)), (xi, k))

            scale = math.sqrt(self.weights[t.name] * float(balance_weights[k]) / x.shape[0])
            blocks.append(Residuals(fn, x, scale))
        return blocks


class PointResidual(nn.Module):
    """``(x, k) -> (c,)``: the residual of term ``k`` at one point ``x`` (its point shape, e.g. ``(d,)``), divided
    by ``sqrt(c)`` for ``c`` components so that a block's squares sum to the term's mean square times its count."""

    def __init__(self, loss: PINNLoss, net: nn.Module) -> None:
        super().__init__()
        self.pde, self.net, self.loss = loss.pde, net, loss

    def forward(self, x: Tensor, k: int) -> Tensor:
        r = self.loss.residual(self.net, self.loss.terms[k], x.unsqueeze(0)).reshape(-1)
        return r / math.sqrt(r.numel())
