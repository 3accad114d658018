"""A strong-Wolfe line search (bracketing, then zoom with safeguarded cubic interpolation).

Nocedal & Wright, *Numerical Optimization* (2nd ed.), Algorithms 3.5 and 3.6. Along a descent direction ``d``
from ``x`` it finds a step ``t`` with

- sufficient decrease: ``f(x + t d) <= f(x) + c1 t g·d``, and
- the strong curvature condition: ``|g(x + t d)·d| <= c2 |g·d|``,

which keeps ``sᵀy > 0`` for the quasi-Newton update after the step. ``phi(t)`` evaluates ``(f, g)`` at
``x + t d``; every call is one loss-and-gradient evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

Phi = Callable[[float], tuple[float, Tensor]]  # t -> (f(x + t d), ∇f(x + t d))


@dataclass
class Point:
    """A trial step: ``t``, the loss there, its gradient and the directional derivative ``g·d``."""

    t: float
    f: float
    g: Tensor
    gd: float


def cubic_min(a: Point, b: Point, lo: float, hi: float) -> float:
    """The minimizer of the cubic through two points (values and slopes), clipped to ``[lo, hi]``; the
    bisection of ``[lo, hi]`` where the cubic has no real minimizer."""
    d1 = a.gd + b.gd - 3 * (a.f - b.f) / (a.t - b.t)
    disc = d1 * d1 - a.gd * b.gd
    if disc < 0 or not math.isfinite(disc):
        return (lo + hi) / 2
    d2 = math.copysign(math.sqrt(disc), b.t - a.t)
    denom = b.gd - a.gd + 2 * d2
    t = b.t - (b.t - a.t) * (b.gd + d2 - d1) / denom if denom != 0 else (lo + hi) / 2
    return min(max(t, lo), hi)


def strong_wolfe(
    phi: Phi,
    f0: float,
    g0: Tensor,
    gd0: float,
    d: Tensor,
    t: float = 1.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evals: int = 25,
    t_max: float = 1e10,
) -> tuple[Point, int]:
    """A step along ``d`` meeting the strong Wolfe conditions (or the best point found within ``max_evals``
    evaluations), and the number of evaluations. ``gd0 = g0·d < 0`` is required."""
    if not gd0 < 0:
        raise ValueError(f"the line search needs a descent direction (g·d < 0), got g·d = {gd0:g}")
    start = Point(0.0, f0, g0, gd0)
    prev, evals = start, 0
    while evals < max_evals:
        f, g = phi(t)
        evals += 1
        cur = Point(t, f, g, float(g.dot(d)))
        if not math.isfinite(f) or f > f0 + c1 * t * gd0 or (evals > 1 and f >= prev.f):
            return _zoom(phi, start, prev, cur, d, c1, c2, max_evals - evals, evals)
        if abs(cur.gd) <= -c2 * gd0:
            return cur, evals
        if cur.gd >= 0:
            return _zoom(phi, start, cur, prev, d, c1, c2, max_evals - evals, evals)
        prev, t = cur, min(2.0 * t, t_max)  # still descending: extrapolate
    return prev, evals


def _zoom(
    phi: Phi, start: Point, lo: Point, hi: Point, d: Tensor, c1: float, c2: float, budget: int, evals: int
) -> tuple[Point, int]:
    """Shrink the bracket ``[lo, hi]`` (``lo`` the best point so far) until a point meets both conditions."""
    for _ in range(max(budget, 0)):
        a, b = sorted((lo.t, hi.t))
        if not math.isfinite(hi.f):  # an overflow: bisect towards lo
            t = (lo.t + hi.t) / 2
        else:
            width = b - a
            t = cubic_min(lo, hi, a + 0.1 * width, b - 0.1 * width)  # keep away from the ends
        f, g = phi(t)
        evals += 1
        cur = Point(t, f, g, float(g.dot(d)))
        if not math.isfinite(f) or f > start.f + c1 * t * start.gd or f >= lo.f:
            hi = cur
        else:
            if abs(cur.gd) <= -c2 * start.gd:
                return cur, evals
            if cur.gd * (hi.t - lo.t) >= 0:
                hi = lo
            lo = cur
        if abs(hi.t - lo.t) * max(1.0, float(d.abs().max())) < 1e-16:
            break
    return lo, evals
