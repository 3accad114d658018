"""Dense self-scaled quasi-Newton methods of the Broyden family, as ``torch.optim.Optimizer`` s (closure API).

Each iteration takes ``d = -H g`` with a dense inverse-Hessian approximation ``H (n, n)``, a strong-Wolfe step
(:mod:`pinnkit.optim.line_search`), and the self-scaled Broyden-family update (Al-Baali; Al-Baali & Khalfan;
as used for PINNs by Urbán, Stefanou & Pons 2025 and Kiyani et al. 2025). With ``s = x⁺ - x``, ``y = g⁺ - g``,
``ρ = 1/sᵀy``, ``h = ρ yᵀHy``, ``b = -α ρ sᵀg`` (``= sᵀBs / sᵀy``, ``B = H⁻¹``, ``α`` the step length),
``a = b h - 1`` and ``v = ρ s - H y / yᵀHy``::

    H⁺ = (H - H y yᵀH / yᵀHy + φ yᵀHy v vᵀ) / τ + ρ s sᵀ,      φ = (1 - θ) / (1 + a θ)

``θ`` picks the family member (0: BFGS, 1: DFP; :class:`~pinnkit.optim.SSBroyden` computes it from ``a``,
``b``, ``h``), and ``τ`` scales ``H`` so that it stays well conditioned while the loss falls over many orders
of magnitude: ``τ = h / (1 + a θ)`` at the first update, then ``σ = 1 + a θ``, ``ρ⁻ = min(1, 1/b)`` and
``τ = min(ρ⁻ σ^{1/(1-n)}, σ)`` for ``θ <= 0``, ``τ = ρ⁻ min(σ^{1/(1-n)}, 1/θ)`` otherwise.

A direction that is not a descent direction, or a step with ``sᵀy <= 0`` (which would break positive
definiteness), restarts from ``H = I`` (``state["restarts"]`` counts them). Memory is ``n²`` floats: the
constructor refuses more than ``max_params`` parameters, saying how much ``H`` would take. Float64 is expected
(warned otherwise): the point of these methods is to keep reducing the loss where float32 has run out of digits.

Like :class:`torch.optim.LBFGS`, one :meth:`step` runs up to ``max_iter`` iterations on the closure's objective;
all state (``H``, the last loss and gradient, counters) is plain tensors and numbers, so a checkpoint of
``state_dict()`` loads with ``weights_only=True`` and a resumed run continues bit for bit.

With ``reuse_evaluation=True`` a step starts from the loss and gradient of the point the last step accepted
(kept in the state) instead of calling the closure again: a step of one iteration then costs its line search's
evaluations only (one where the first trial step is accepted). The caller says when the objective changes (new
collocation points) with :meth:`objective_changed`; a change of the parameters from outside is noticed on its own.

``initial_step`` is the line search's first trial step: ``"unit"`` (``t = lr``, the quasi-Newton step) or
``"interpolate"``, ``t = min(lr, 1.01 · 2 (f_k - f_{k-1}) / gᵀd)`` (Nocedal & Wright eq. 3.60, floored at
``1e-3 lr``): while the loss falls fast this is the unit step, and where the unit step would be cut back it saves the
evaluation at ``t = lr``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from functools import partial

import torch
from torch import Tensor

from .line_search import strong_wolfe

Closure = Callable[[], Tensor]
INITIAL_STEPS = ("unit", "interpolate")


class SelfScaledBroydenFamily(torch.optim.Optimizer):
    """Base class: subclasses define :meth:`theta` (the family member) and whether ``τ`` is computed."""

    self_scaled: bool = True

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-12,
        tolerance_change: float = 1e-15,
        c1: float = 1e-4,
        c2: float = 0.9,
        max_params: int = 10_000,
        reuse_evaluation: bool = False,
        initial_step: str = "unit",
    ) -> None:
        if initial_step not in INITIAL_STEPS:
            raise ValueError(f"initial_step must be one of {INITIAL_STEPS}, got {initial_step!r}")
        if lr <= 0 or max_iter < 1 or not 0 < c1 < c2 < 1:
            raise ValueError(f"need lr > 0, max_iter >= 1 and 0 < c1 < c2 < 1, got {lr}, {max_iter}, {c1}, {c2}")
        defaults = {"lr": lr, "max_iter": max_iter, "max_eval": max_eval or max_iter * 5 // 4, "c1": c1, "c2": c2,
                    "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change}  # fmt: skip
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(f"{type(self).__name__} takes one parameter group (a dense H spans all parameters)")
        self._params = [p for p in self.param_groups[0]["params"] if p.requires_grad]
        n = sum(p.numel() for p in self._params)
        item = self._params[0].element_size() if self._params else 8
        if n > max_params:
            raise ValueError(
                f"{type(self).__name__} keeps a dense {n} x {n} inverse Hessian ({n * n * item / 2**30:.2g} GiB for "
                f"{n} parameters), above max_params={max_params}: use a smaller net (these methods are for "
                "~1e3-1e4 parameters), raise max_params if the memory is there, or use L-BFGS"
            )
        if any(p.dtype != torch.float64 for p in self._params):
            warnings.warn(
                f"{type(self).__name__} is meant for float64 parameters (trainer.precision=64): in float32 the line "
                "search and the curvature pairs run out of digits long before the loss stops falling",
                stacklevel=2,
            )
        self.n = n
        self.reuse_evaluation = bool(reuse_evaluation)
        self.initial_step = initial_step

    # ---- the family ------------------------------------------------------------------------------------
    def theta(self, a: float, b: float, h: float) -> float:
        """The Broyden-family parameter (0: BFGS)."""
        raise NotImplementedError

    def tau(self, a: float, b: float, h: float, theta: float, first: bool) -> float:
        """The self-scaling factor ``τ`` (module doc); 1 for unscaled methods."""
        if not self.self_scaled:
            return 1.0
        sigma = 1.0 + a * theta
        if first:
            return h / sigma
        sigma_n = abs(sigma) ** (1.0 / (1.0 - self.n)) if self.n > 1 else 1.0
        rho_minus = min(1.0, 1.0 / b)
        if theta <= 0:
            return min(rho_minus * sigma_n, sigma)
        return rho_minus * min(sigma_n, 1.0 / theta)

    def update(self, H: Tensor, s: Tensor, y: Tensor, g: Tensor, alpha: float, first: bool) -> bool:
        """``H <- H⁺`` in place from the step ``s``, the gradient change ``y`` and the gradient ``g`` before the
        step (three rank-one updates and a scaling); ``False`` when the pair cannot be used (``sᵀy <= 0``, a
        non-finite factor or result), in which case ``H`` is no longer meaningful and the caller restarts."""
        sy = float(s.dot(y))
        if not sy > 0 or not math.isfinite(sy):
            return False
        rho = 1.0 / sy
        Hy = H @ y
        yHy = float(y.dot(Hy))
        if not yHy > 0 or not math.isfinite(yHy):
            return False
        h, b = yHy * rho, -alpha * rho * float(s.dot(g))
        a = b * h - 1.0
        theta = self.theta(a, b, h)
        tau = self.tau(a, b, h, theta, first)
        phi = (1.0 - theta) / (1.0 + a * theta)
        if not all(math.isfinite(v) for v in (tau, phi)) or tau <= 0:
            return False
        v = rho * s - Hy / yHy
        H.addr_(Hy, Hy, alpha=-1.0 / yHy)
        if phi != 0.0:
            H.addr_(v, v, alpha=phi * yHy)
        H.div_(tau).addr_(s, s, alpha=rho)
        return bool(torch.isfinite(H).all())

    # ---- the iteration ---------------------------------------------------------------------------------
    def _flat_grad(self) -> Tensor:
        return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self._params])

    def _add(self, t: float, d: Tensor) -> None:
        offset = 0
        for p in self._params:
            k = p.numel()
            p.add_(d[offset : offset + k].view_as(p), alpha=t)
            offset += k

    def _evaluate(self, closure: Closure, x: list[Tensor], t: float, *, d: Tensor) -> tuple[float, Tensor]:
        """Loss and flat gradient at ``x + t d``; the parameters are put back to exactly ``x`` afterwards."""
        self._add(t, d)
        loss = float(closure())
        g = self._flat_grad()
        for p, p0 in zip(self._params, x, strict=True):
            p.copy_(p0)
        return loss, g

    def objective_changed(self, keep_curvature: bool = True) -> None:
        """The closure's objective changed (e.g. new collocation points): the next step evaluates it afresh.
        ``keep_curvature=False`` also forgets ``H`` (the next step starts from the gradient)."""
        state = self.state[self._params[0]]
        for key in ("f", "g", "x", "f_prev"):
            state.pop(key, None)
        if not keep_curvature:
            state.pop("H", None)
            state["updates"] = 0

    def _restart(self, state: dict, like: Tensor) -> Tensor:
        state["restarts"] += 1
        state["updates"] = 0  # the first update's scaling and step length again
        return torch.eye(self.n, dtype=like.dtype, device=like.device)

    def _start(self, closure: Closure, state: dict) -> tuple[Tensor | None, float, Tensor]:
        """The loss (as the closure returned it, or ``None`` when reused) and flat gradient at the current point."""
        x = self._flat_params()
        if self.reuse_evaluation and "g" in state and torch.equal(state["x"], x):
            return None, float(state["f"]), state["g"]
        loss = closure()
        return loss, float(loss), self._flat_grad()

    @torch.no_grad()
    def step(self, closure: Closure) -> Tensor:  # type: ignore[override]
        """Up to ``max_iter`` iterations on ``closure`` (which zeroes the gradients, computes the loss and calls
        ``backward``); returns the loss at the start, as :class:`torch.optim.LBFGS` does."""
        closure = torch.enable_grad()(closure)
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        for key in ("n_iter", "func_evals", "restarts", "updates"):
            state.setdefault(key, 0)
        if "H" not in state:
            state["H"] = torch.eye(self.n, dtype=self._params[0].dtype, device=self._params[0].device)
        H = state["H"]
        orig, f, g = self._start(closure, state)
        evals = 0 if orig is None else 1
        if orig is None:
            orig = torch.tensor(f, dtype=g.dtype, device=g.device)
        if float(g.abs().max()) <= group["tolerance_grad"]:
            self._remember(state, H, f, g, evals)
            return orig
        for _ in range(group["max_iter"]):
            d = -(H @ g)
            gd = float(g.dot(d))
            if not gd < 0 or not math.isfinite(gd):  # not a descent direction: restart from the gradient
                H = self._restart(state, g)
                d, gd = -g, -float(g.dot(g))
            t = group["lr"] * (min(1.0, 1.0 / float(g.abs().sum())) if state["updates"] == 0 else 1.0)
            if self.initial_step == "interpolate" and state["updates"] > 0 and state.get("f_prev", f) > f:
                t = min(t, max(1e-3 * t, 1.01 * 2.0 * (f - state["f_prev"]) / gd))
            x = [p.clone() for p in self._params]
            phi = partial(self._evaluate, closure, x, d=d)
            point, used = strong_wolfe(phi, f, g, gd, d, t, group["c1"], group["c2"],
                                       max_evals=max(group["max_eval"] - evals, 1))  # fmt: skip
            evals += used
            if point.t == 0.0:  # no acceptable step along d: once more along the gradient, else stop
                if state["updates"] == 0 or evals >= group["max_eval"]:
                    break
                H = self._restart(state, g)
                continue
            self._add(point.t, d)
            s, y = point.t * d, point.g - g
            if self.update(H, s, y, g, point.t, first=state["updates"] == 0):
                state["updates"] += 1
            else:  # the pair would break positive definiteness: restart
                H = self._restart(state, g)
            state["n_iter"] += 1
            f_old, f, g = f, point.f, point.g
            if self.initial_step == "interpolate":  # the loss one iteration back, for the next first trial step
                state["f_prev"] = f_old
            if (float(g.abs().max()) <= group["tolerance_grad"] or abs(f - f_old) < group["tolerance_change"]
                    or float(s.abs().max()) <= group["tolerance_change"] or evals >= group["max_eval"]):  # fmt: skip
                break
        self._remember(state, H, f, g, evals)
        return orig

    def _remember(self, state: dict, H: Tensor, f: float, g: Tensor, evals: int) -> None:
        state["H"] = H
        state["func_evals"] += evals
        if self.reuse_evaluation:  # the point the parameters are at, its loss and gradient
            state["f"], state["g"], state["x"] = torch.tensor(f, dtype=g.dtype), g, self._flat_params()

    def _flat_params(self) -> Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params])
