"""Training: the LightningModule, optimizer phases, the non-finite guard, signals and final checkpoints, timing,
and every touch of Lightning's internals (:mod:`~pinnkit.training.loop`)."""

from .guard import NonFiniteGuard, NonFiniteLossError
from .loop import StepsPerBatch
from .module import PINNModule
from .phases import Phases

__all__ = ["NonFiniteGuard", "NonFiniteLossError", "PINNModule", "Phases", "StepsPerBatch"]
