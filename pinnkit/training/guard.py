"""The non-finite guard: NaN/Inf losses and parameters never go unnoticed and never reach a checkpoint.

Every step adds one ``isfinite`` reduction of the term losses to a device tensor (the first step each term went
non-finite; no host sync). The host reads it (:meth:`NonFiniteGuard.check`) on the logging cadence, after every
L-BFGS step, at each validation start (Lightning runs callbacks' ``on_validation_end``, where checkpoints are
written, before the module's, so the check must come first) and when training ends, whatever the log cadence
(``log_every_n_steps=0`` included). The parameters are checked there too, since an optimizer step can overflow
with a finite loss.

``mode="stop"`` raises :class:`NonFiniteLossError` naming the terms and their first bad steps.
``mode="skip"`` reads the reduction every step and skips bad steps (no update); it fails the run once more
than ``skip_limit`` (a fraction of ``max_steps``) were skipped, since such a run did not train.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor

MODES = ("stop", "skip")


class NonFiniteLossError(FloatingPointError):
    """A loss term or a parameter became NaN or Inf during training."""


class NonFiniteGuard:
    """Tracks non-finite losses per term (``terms``: their names, in loss order) and parameters."""

    def __init__(self, mode: str, terms: Sequence[str], skip_limit: float = 0.5) -> None:
        if mode not in MODES:
            raise ValueError(f"nonfinite must be one of {MODES}, got {mode!r}")
        if not 0.0 <= float(skip_limit) <= 1.0:
            raise ValueError(f"nonfinite_skip_limit must be a fraction in [0, 1], got {skip_limit}")
        self.mode, self.terms, self.skip_limit = mode, tuple(terms), float(skip_limit)
        self.first_bad: Tensor | None = None  # (n_terms,) first step each term was non-finite, -1 if never
        self.skipped = 0  # steps skipped with mode="skip" (over all segments of a resumed run)
        self.reason: str | None = None

    def record(self, losses: Mapping[str, Tensor], step: int) -> bool:
        """Note this step's losses (on the device); with ``mode="skip"`` return whether to skip the step."""
        finite = torch.stack([v.detach() for v in losses.values()]).isfinite()
        if self.first_bad is None or self.first_bad.device != finite.device:
            self.first_bad = torch.full((len(losses),), -1, dtype=torch.long, device=finite.device)
        self.first_bad = torch.where((self.first_bad < 0) & ~finite, step, self.first_bad)
        if self.mode != "skip":
            return False
        skip = not bool(finite.all())  # a host sync per step: the price of skipping
        self.skipped += skip
        return skip

    def report(self, step: int, params: Iterable[Tensor] = ()) -> str | None:
        """A message if a loss (``mode="stop"``) or a parameter is non-finite, else ``None`` (a host sync)."""
        if self.mode == "stop" and self.first_bad is not None:
            first = self.first_bad.tolist()
            bad = sorted(((n, s) for n, s in zip(self.terms, first, strict=True) if s >= 0), key=lambda kv: kv[1])
            if bad:
                names = ", ".join(f"'{n}' (from step {s})" for n, s in bad)
                return f"non-finite loss in term {names}; first bad step {bad[0][1]}; training stopped at step {step}"
        params = [p for p in params if p.is_floating_point()]
        if params and not bool(torch.stack([p.detach().isfinite().all() for p in params]).all()):
            return (
                f"non-finite parameters at step {step} (the losses were finite: an optimizer step overflowed); "
                "training stopped"
            )
        return None

    def check(self, step: int, params: Iterable[Tensor] = ()) -> None:
        """Raise :class:`NonFiniteLossError` with :meth:`report`'s message, if any."""
        msg = self.report(step, params)
        if msg is not None:
            self.reason = msg
            raise NonFiniteLossError(msg)

    def check_skips(self, steps: int, max_steps: int) -> None:
        """With ``mode="skip"``: fail once the skipped steps exceed ``skip_limit`` of ``max_steps`` (``steps``:
        those taken so far, or the total at the end)."""
        total = max_steps if max_steps > 0 else steps
        if self.mode == "skip" and total > 0 and self.skipped > self.skip_limit * total:
            self.reason = (
                f"nonfinite=skip skipped {self.skipped} of {steps} steps so far, more than "
                f"nonfinite_skip_limit={self.skip_limit:g} of the run's {total} steps: the run cannot train. "
                "Lower the learning rate or clip gradients (optim.grad_clip=1.0)"
            )
            raise NonFiniteLossError(self.reason)
