"""Reading pinnkit checkpoints with clear errors: missing, corrupt, foreign or mismatched files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint cannot be used: unreadable, not pinnkit's, or for another network."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a Lightning checkpoint written by pinnkit (on CPU); raise :class:`CheckpointError` saying why not."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # pickle, zip and torch errors alike: the file is not a readable checkpoint
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or not a torch checkpoint: {err}") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "pinnkit" not in ckpt:
        raise CheckpointError(f"{str(path)!r} is not a pinnkit checkpoint (no state_dict / pinnkit section)")
    return ckpt


def check_matches(ckpt: dict[str, Any], module: nn.Module, path: str | Path) -> None:
    """Raise :class:`CheckpointError` if ``ckpt``'s weights do not fit ``module`` (other net, PDE or sizes)."""
    have = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in ckpt["state_dict"].items()}
    diffs = sorted(set(have) ^ set(got)) + sorted(k for k in set(have) & set(got) if have[k] != got[k])
    if diffs:
        cfg = (ckpt["pinnkit"].get("config") or {}).get("model", {})
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not fit this run's network ({len(diffs)} mismatched tensors, e.g. "
            f"{diffs[:3]}); it was written for model {cfg}. Resume with the same pde and model settings"
        )
