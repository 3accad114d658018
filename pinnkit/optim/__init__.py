"""Optimizers as ``torch.optim.Optimizer`` classes with the closure API, usable outside pinnkit."""

from .ssbfgs import BFGS, SSBFGS
from .ssbroyden import SSBroyden

__all__ = ["BFGS", "SSBFGS", "SSBroyden"]
