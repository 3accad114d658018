"""A small on-disk cache for reference solutions: ``$PINNKIT_CACHE`` or ``~/.cache/pinnkit``.

Files are written atomically (:mod:`pinnkit.atomic`); a missing, unreadable, truncated or corrupt file (bad zip or
CRC error) is recomputed and rewritten, never trusted. Temp files of killed writers are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..atomic import remove_stale_temps, save_npz


def cache_dir() -> Path:
    return Path(os.environ.get("PINNKIT_CACHE") or Path.home() / ".cache" / "pinnkit")


def cached(name: str, params: dict, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, stored as ``<cache>/<name>-<hash of params>.npz`` and reused while readable."""
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"{name}-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}  # reads (and CRC-checks) every array now
        if data:
            return data
    except Exception:  # missing, truncated (BadZipFile), CRC-broken, not an npz: rebuild
        pass
    data = compute()
    try:
        remove_stale_temps(path.parent)
        save_npz(path, **data)
    except OSError:  # an unwritable cache only costs the recomputation next time
        pass
    return data
