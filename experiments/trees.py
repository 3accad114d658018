"""Running a source tree's own code: its package first on the path, W&B off. Used by the scripts that compare two
trees (:mod:`experiments.equivalence` runs its ``train.py``, :mod:`experiments.tree_speed` its speed workers)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def tree_env(tree: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a process that must import ``tree``'s pinnkit, with W&B off (plus ``env``)."""
    return {**os.environ, "PYTHONPATH": str(tree), "WANDB_MODE": "disabled", **(env or {})}


def train_in(
    tree: Path, overrides: Sequence[str], out: Path, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``python train.py OVERRIDES paths.output_dir=OUT`` in ``tree`` with ``tree``'s pinnkit; not checked."""
    cmd = [sys.executable, "train.py", *overrides, f"paths.output_dir={out}"]
    return subprocess.run(cmd, cwd=tree, env=tree_env(tree, env), capture_output=True, text=True, timeout=timeout)
