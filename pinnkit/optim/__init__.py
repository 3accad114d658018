"""Optimizers as ``torch.optim.Optimizer`` classes, usable outside pinnkit: the dense self-scaled quasi-Newton
methods (closure API, like L-BFGS) and the energy natural gradient (a Gauss-Newton step on per-point residuals)."""

from .engd import ENGD, Residuals
from .ssbfgs import BFGS, SSBFGS
from .ssbroyden import SSBroyden

__all__ = ["BFGS", "ENGD", "SSBFGS", "Residuals", "SSBroyden"]
