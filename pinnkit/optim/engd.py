"""Energy natural gradient (ENGD; Müller & Zeinhofer 2023): a Gauss-Newton step on stacked per-point residuals.

The loss is ``L(θ) = Σ_b Σ_i |c_bi r_b(θ, x_bi)|²`` over blocks ``b`` of points (one per loss term), with per-point
scales ``c`` (``sqrt(weight / count)`` for a weighted mean square). With ``R (N,)`` the stacked scaled residuals
and ``J = ∂R/∂θ (N, P)``, one step is

    d = -(JᵀJ + λI)⁻¹ JᵀR = -Jᵀ (JJᵀ + λI)⁻¹ R        (the second form: Woodbury, solved in sample space)

solved in whichever space is smaller (``N < P``: the ``N × N`` system; else the ``P × P`` normal equations), then
``θ <- θ + η d`` with ``η`` the best of a logarithmic grid ``{1, 1/2, ..., 2^-(k-1)}`` (the line search of the
ENGD paper), tried from 1 down and stopped once the loss rises again after a decrease. ``λ = 0`` takes the
minimum-norm least-squares step ``-J⁺R``.

``J`` is built per point: ``vmap`` over the points of ``jacrev`` of the single-point residual with respect to the
parameters, never the Jacobian of the batched residual (whose reverse passes would cost ``O(N²)``). A block's
``fn(params, x)`` must therefore run under ``torch.func`` transforms: plain tensor code (pinnkit's ``taylor``
backend is), not ``torch.autograd.grad``.

The closure passed to :meth:`ENGD.step` returns the blocks at the current data (:class:`Residuals`); it is called
once per step. Single process only: a Gauss-Newton step over a DDP-split batch would need the ranks' ``J`` rows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.func import jacrev, vmap

#: ``fn(params, x) -> (k,) or ()``: the residual at one point ``x`` (a block's point shape, e.g. ``(d,)``)
PointResidual = Callable[[tuple[Tensor, ...], Tensor], Tensor]


@dataclass(frozen=True)
class Residuals:
    """A block of per-point residuals: ``fn`` at each of ``points (n, ...)``, scaled per point by ``scale`` (a
    number or ``(n,)``); the block adds ``Σ_i |scale_i fn(θ, x_i)|²`` to the loss."""

    fn: PointResidual
    points: Tensor
    scale: Tensor | float = 1.0

    def scales(self) -> Tensor:
        """``(n, 1)`` per-point scales."""
        c = torch.as_tensor(self.scale, dtype=self.points.dtype, device=self.points.device)
        return c.expand(self.points.shape[0]).reshape(-1, 1)

    def values(self, params: tuple[Tensor, ...]) -> Tensor:
        """The scaled residuals ``(n·k,)`` at ``params``."""
        r = vmap(self.fn, in_dims=(None, 0))(params, self.points)
        return (self.scales() * r.reshape(r.shape[0], -1)).reshape(-1)

    def jacobian(self, params: tuple[Tensor, ...]) -> Tensor:
        """``(n·k, P)``: the per-point Jacobians of the scaled residuals, flattened over the parameters."""
        jac = vmap(jacrev(self.fn), in_dims=(None, 0))(params, self.points)  # per parameter: (n, [k,] *p.shape)
        n = self.points.shape[0]
        k = jac[0].reshape(n, -1, params[0].numel()).shape[1]
        rows = torch.cat([j.reshape(n, k, -1) for j in jac], dim=-1)  # (n, k, P)
        return (self.scales().unsqueeze(-1) * rows).reshape(n * k, -1)


class ENGD(torch.optim.Optimizer):
    """Energy natural gradient / Gauss-Newton with damping ``damping`` (λ) and a grid line search over
    ``line_search`` step sizes ``lr · 2^-i``, ``i < line_search``. ``max_rows``: a guard on ``N`` (``J`` takes ``N·P``
    floats). Usable on its own::

        opt = ENGD(model.parameters(), damping=1e-10)
        opt.step(lambda: [Residuals(fn, x_interior), Residuals(fn_b, x_boundary, scale=10.0)])
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1.0,
        damping: float = 1e-10,
        line_search: int = 30,
        max_rows: int = 50_000,
    ) -> None:
        if lr <= 0 or damping < 0 or line_search < 1 or max_rows < 1:
            raise ValueError(f"ENGD needs lr > 0, damping >= 0, line_search >= 1, max_rows >= 1; got {lr}, "
                             f"{damping}, {line_search}, {max_rows}")  # fmt: skip
        defaults = {"lr": float(lr), "damping": float(damping), "line_search": int(line_search)}
        super().__init__(params, defaults)
        self._params = [p for g in self.param_groups for p in g["params"] if p.requires_grad]
        self.max_rows = int(max_rows)
        if any(p.dtype != torch.float64 for p in self._params):
            warnings.warn("ENGD is meant for float64 parameters (trainer.precision=64): the Gauss-Newton system's "
                          "conditioning squares in float32", stacklevel=2)  # fmt: skip

    def _values(self, blocks: Sequence[Residuals], params: tuple[Tensor, ...]) -> Tensor:
        return torch.cat([b.values(params) for b in blocks])

    @torch.no_grad()
    def direction(self, blocks: Sequence[Residuals]) -> tuple[Tensor, Tensor]:
        """The damped Gauss-Newton direction ``d (P,)`` and the residuals ``R (N,)`` at the current parameters."""
        params = tuple(p.detach() for p in self._params)
        R = self._values(blocks, params)
        if R.numel() > self.max_rows:
            raise ValueError(f"ENGD would build a {R.numel()} x {sum(p.numel() for p in params)} Jacobian, above "
                             f"max_rows={self.max_rows}: use fewer points or raise max_rows")  # fmt: skip
        J = torch.cat([b.jacobian(params) for b in blocks])
        lam = self.param_groups[0]["damping"]
        n, p = J.shape
        if lam == 0:
            return -torch.linalg.lstsq(J, R.unsqueeze(-1), driver="gelsd").solution.squeeze(-1), R
        if n < p:  # Woodbury: d = -Jᵀ (J Jᵀ + λ I)⁻¹ R
            K = J @ J.T
            K.diagonal().add_(lam)
            return -(J.T @ _solve(K, R)), R
        G = J.T @ J
        G.diagonal().add_(lam)
        return -_solve(G, J.T @ R), R

    @torch.no_grad()
    def step(self, closure: Callable[[], Sequence[Residuals]]) -> Tensor:  # type: ignore[override]
        """One Gauss-Newton step; ``closure()`` returns the residual blocks. Returns the loss before the step."""
        blocks = list(closure())
        d, R = self.direction(blocks)
        loss0 = float(R.square().sum())
        base = [p.detach().clone() for p in self._params]
        chunks = torch.split(d, [p.numel() for p in self._params])
        best, best_eta = loss0, 0.0
        group = self.param_groups[0]
        for i in range(group["line_search"]):
            eta = group["lr"] * 0.5**i
            trial = tuple(b + eta * c.view_as(b) for b, c in zip(base, chunks, strict=True))
            f = float(self._values(blocks, trial).square().sum())
            if math.isfinite(f) and f < best:
                best, best_eta = f, eta
            elif best_eta > 0:  # past the grid's best step: the loss along d rises again
                break
        for p, b, c in zip(self._params, base, chunks, strict=True):
            p.copy_(b + best_eta * c.view_as(b))
        state = self.state[self._params[0]]
        state["n_iter"] = state.get("n_iter", 0) + 1
        state["last_eta"] = best_eta
        return torch.tensor(loss0, dtype=R.dtype)


def _solve(A: Tensor, b: Tensor) -> Tensor:
    """``A⁻¹ b`` for a symmetric positive semi-definite ``A``: Cholesky, else least squares (rank-deficient)."""
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0:
        return torch.cholesky_solve(b.unsqueeze(-1), L).squeeze(-1)
    return torch.linalg.lstsq(A, b.unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
