"""Running a source tree's own ``train.py``: its package first on the path, W&B off. Used by the scripts that
compare two trees (:mod:`experiments.equivalence`, :mod:`experiments.tree_speed`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def train_in(
    tree: Path, overrides: Sequence[str], out: Path, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``python train.py OVERRIDES paths.output_dir=OUT`` in ``tree`` with ``tree``'s pinnkit; not checked."""
    full_env = {**os.environ, "PYTHONPATH": str(tree), "WANDB_MODE": "disabled", **(env or {})}
    cmd = [sys.executable, "train.py", *overrides, f"paths.output_dir={out}"]
    return subprocess.run(cmd, cwd=tree, env=full_env, capture_output=True, text=True, timeout=timeout)
