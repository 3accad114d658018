"""Truncated Taylor jets: the arithmetic (:class:`Jet`, :class:`ChannelSpec`), activation derivatives and the
per-module propagation rules. Used by the ``taylor`` backend and by every network's ``forward_jet``."""

from . import activations
from .blocks import Scaled
from .channels import ChannelSpec
from .jet import Jet
from .rules import RULES, propagate

__all__ = ["RULES", "ChannelSpec", "Jet", "Scaled", "activations", "propagate"]
