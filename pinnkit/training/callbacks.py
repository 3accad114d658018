"""The run's Lightning callbacks from the ``callbacks`` config group (one entry per callback, each a
``_target_``; ``pinnkit/conf/callbacks/``), with ``monitor: objective`` standing for the PDE's objective and a
progress bar left out when the trainer has the bar off (Lightning refuses the pair)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar

from ..config_checks import ConfigError

#: what ``monitor:`` may name instead of a metric: the run's objective (:func:`.validation.objective`)
OBJECTIVE = "objective"


def configured_callbacks(node: Mapping[str, Any] | None, objective: str, progress_bar: bool) -> list[L.Callback]:
    """The callbacks ``node`` (``callbacks.<name>: {_target_: ..., ...}``, ``null`` entries skipped; its shape
    checked by :func:`~pinnkit.config_checks.check_config`) builds."""
    out: list[L.Callback] = []
    for name, spec in (node or {}).items():
        if spec is None:
            continue
        extra = {"monitor": objective} if spec.get("monitor") == OBJECTIVE else {}
        callback = instantiate(spec, **extra)
        if not isinstance(callback, L.Callback):
            raise ConfigError(f"callbacks.{name}: {spec['_target_']} is not a lightning Callback")
        if isinstance(callback, ProgressBar) and not progress_bar:
            continue
        out.append(callback)
    return out
