"""Self-scaled Broyden: the family member θ chosen per iteration (Al-Baali & Khalfan's interval), see
:mod:`.broyden_family`."""

from __future__ import annotations

import math

from .broyden_family import SelfScaledBroydenFamily


class SSBroyden(SelfScaledBroydenFamily):
    """Self-scaled Broyden with a strong-Wolfe line search, dense ``H``, float64 (see :mod:`.broyden_family`).

    ``θ`` is the point of ``[θ⁻, θ⁺]`` closest to ``(1 - b)/b``, with ``c = sqrt(|a / (1 + a)|)``,
    ``ρ⁻ = min(1, h (1 - c))``, ``θ⁻ = (ρ⁻ - 1)/a`` and ``θ⁺ = 1/ρ⁻``: an interval on which the update stays
    positive definite and well scaled. Where ``a = 0`` (the curvature of the step is matched exactly) the BFGS
    member ``θ = 0`` is taken.
    """

    def theta(self, a: float, b: float, h: float) -> float:
        if abs(a) < 1e-14 or a <= -1.0:
            return 0.0
        c = math.sqrt(abs(a / (1.0 + a)))
        rho_minus = min(1.0, h * (1.0 - c))
        if rho_minus <= 0:
            return 0.0
        lo, hi = (rho_minus - 1.0) / a, 1.0 / rho_minus
        return max(lo, min(hi, (1.0 - b) / b))
