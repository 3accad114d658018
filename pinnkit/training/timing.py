"""Training time: the loss timing of logging steps, the step rate, and the segments of a resumed run."""

from __future__ import annotations

import time

import torch


class Timing:
    """Clocks of one training process on ``device`` (its ``sync`` waits for CUDA work, else does nothing).

    ``due``/``loss_ms``: whether this step's loss is timed (logging steps only: the syncs cost) and the time;
    ``before``/``segments_before``: an earlier segment's total and list (a resumed run's, from its checkpoint).
    """

    def __init__(self) -> None:
        self.due, self.loss_ms = False, None
        self.start = time.perf_counter()  # of training (for perf/wall_s)
        self.mark: tuple[int, float] | None = None  # (step, clock) of the last logged rate
        self.segment: tuple[float, int] = (time.perf_counter(), 0)  # this segment's (clock, first step)
        self.before, self.segments_before = 0.0, []
        self.device = torch.device("cpu")

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def begin_segment(self, step: int | None = None) -> None:
        """At fit start (``step=None``: the clock only; the step is known once a checkpoint is restored) and
        at train start (the step)."""
        if step is None:
            self.segment = (time.perf_counter(), 0)
        else:
            self.start = time.perf_counter()
            self.segment = (self.segment[0], step)

    def rate(self, step: int, now: float) -> float | None:
        """Steps per second since the last call (``None`` on the first), and mark ``(step, now)``."""
        rate = None
        if self.mark is not None and step > self.mark[0]:
            rate = (step - self.mark[0]) / (now - self.mark[1])
        self.mark = (step, now)
        return rate

    def segments(self, step: int) -> tuple[float, list[dict]]:
        """Training time (s) over every segment of the run so far, and the segments ``{"steps": [from, to],
        "time_s"}``: a resumed run's earlier ones and this one, up to now."""
        t0, step0 = self.segment
        now = time.perf_counter() - t0
        return self.before + now, [*self.segments_before, {"steps": [step0, step], "time_s": now}]
