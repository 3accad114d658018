"""A small on-disk cache for reference solutions: ``$PINNKIT_CACHE`` or ``~/.cache/pinnkit``.

Files are written atomically; a missing, unreadable or incomplete file is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    return Path(os.environ.get("PINNKIT_CACHE") or Path.home() / ".cache" / "pinnkit")


def cached(name: str, params: dict, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, stored as ``<cache>/<name>-<hash of params>.npz`` and reused while readable."""
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"{name}-{key}.npz"
    try:
        with np.load(path) as f:
            data = {k: f[k] for k in f.files}
        if data:
            return data
    except (OSError, ValueError, EOFError):  # missing or corrupt: rebuild
        pass
    data = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **data)
        os.replace(tmp, path)
    except OSError:  # an unwritable cache only costs the recomputation next time
        pass
    return data
