"""Numerical reference solutions pinnkit computes itself (no downloads), cached on disk."""

from .cache import cache_dir, cached
from .spectral import SpectralSolution, etdrk4

__all__ = ["SpectralSolution", "cache_dir", "cached", "etdrk4"]
