"""Pointwise networks ``(..., d) -> (..., m)``, each with a Taylor-jet rule so every backend serves them."""

from .layers import ACTIVATIONS, FactorizedLinear, InputMap, Normalize, Sin, make_activation
from .mlp import MLP, ModifiedMLP

__all__ = ["ACTIVATIONS", "MLP", "FactorizedLinear", "InputMap", "ModifiedMLP", "Normalize", "Sin", "make_activation"]
