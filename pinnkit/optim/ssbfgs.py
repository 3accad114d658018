"""Self-scaled BFGS: the BFGS member (θ = 0) of the self-scaled Broyden family (:mod:`.broyden_family`)."""

from __future__ import annotations

from .broyden_family import SelfScaledBroydenFamily


class SSBFGS(SelfScaledBroydenFamily):
    """Self-scaled BFGS with a strong-Wolfe line search, dense ``H``, float64 (see :mod:`.broyden_family`).

    ``θ = 0``, so ``τ = h`` (Oren–Luenberger) at the first update and ``τ = min(1, 1/b)`` after it: the old ``H``
    is scaled up by ``1/τ = max(1, b)`` when the last step found its curvature ``sᵀBs`` above ``sᵀy`` (``H`` too
    small for the loss's current scale), and left as it is otherwise. Usable on its own::

        opt = SSBFGS(model.parameters(), max_iter=50)
        opt.step(closure)        # closure: zero_grad, loss, backward, return loss
    """

    def theta(self, a: float, b: float, h: float) -> float:
        return 0.0


class BFGS(SSBFGS):
    """Classic BFGS (``τ = 1``) with the same line search and restarts: the unscaled reference."""

    self_scaled = False
