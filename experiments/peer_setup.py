"""What every side of the peer benchmark (:mod:`experiments.bench_peers`) shares: the Burgers setup's constants,
the Cole-Hopf reference grid, and a tracker that records the error history with its evaluations off the clock."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
NU = 0.01 / math.pi
TARGET = 1e-2
LBFGS_ITERS = 20  # pinnkit's L-BFGS step: up to 20 iterations (optim.lbfgs.max_iter)


def reference_grid() -> tuple[torch.Tensor, torch.Tensor]:
    """``(25600, 2)`` points over ``(t, x)`` and the Cole-Hopf reference ``(25600,)`` (float64)."""
    sys.path.insert(0, str(ROOT))
    from pinnkit.pdes import Burgers

    _, mesh = Burgers(nu=NU).grid()
    pts = mesh.reshape(-1, 2)
    return pts, Burgers(nu=NU).exact(pts)[:, 0]


class Tracker:
    """Training time with evaluations excluded, and the (time, step, rel L2) history."""

    def __init__(self, predict, every: int) -> None:  # predict: (P, 2) float64 over (t, x) -> (P,) numpy/tensor
        self.predict, self.every = predict, every
        self.pts, self.ref = reference_grid()
        self.start = time.perf_counter()
        self.paused = 0.0
        self.history: list[tuple[float, int, float]] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def record(self, step: int) -> None:
        t = self.elapsed()
        t0 = time.perf_counter()
        with torch.no_grad():
            pred = torch.as_tensor(self.predict(self.pts), dtype=torch.float64).reshape(-1)
        l2 = float((pred - self.ref).norm() / self.ref.norm())
        self.history.append((t, step, l2))
        self.paused += time.perf_counter() - t0

    def maybe(self, step: int) -> None:
        """Record at the first step at or past each multiple of ``every`` (L-BFGS may jump several steps)."""
        if step >= self.every * (1 + (self.history[-1][1] // self.every if self.history else 0)):
            self.record(step)


def iterations(step: int, adam: int) -> int:
    """pinnkit's optimizer step as optimizer iterations, DeepXDE's unit: an L-BFGS step counts ``LBFGS_ITERS``,
    so errors are recorded (every ``--eval-every`` iterations) at the same points of both L-BFGS phases."""
    return step if step <= adam else adam + (step - adam) * LBFGS_ITERS
