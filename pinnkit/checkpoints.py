"""Checkpoints that run no code and survive faults: reading, writing (a Lightning ``CheckpointIO``), hashing.

- Every load is ``torch.load(weights_only=True)``: tensors and plain data only, so a crafted file cannot run
  code. pinnkit's own state (the ``pinnkit`` section) is plain types too.
- Every save goes through :class:`SafeCheckpointIO`: refused if a parameter is non-finite, stamped with a
  SHA-256 of its whole content, written through :func:`pinnkit.atomic.atomic_open` (temp file beside the target,
  fsync, rename), so a full disk or a kill leaves the previous checkpoint intact.
- :func:`read_checkpoint` checks the file is a pinnkit checkpoint and that its hash matches: flipped bytes are
  refused as corruption (the hash detects corruption, not tampering: anyone can recompute it).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from .atomic import save_torch

FORMAT = 2  # the pinnkit section's layout: identity, sha256, time and segments, skipped steps


class CheckpointError(ValueError):
    """A checkpoint cannot be used: missing, unreadable, not pinnkit's, corrupt, or for another run."""


class NonFiniteParametersError(FloatingPointError):
    """A checkpoint would hold NaN/Inf parameters: it is not written."""


def content_hash(ckpt: Mapping[str, Any]) -> str:
    """SHA-256 over every tensor and value of ``ckpt`` (keys in sorted order), except ``pinnkit.sha256``."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in ckpt.items() if k != "pinnkit"})
    _feed(h, {k: v for k, v in (ckpt.get("pinnkit") or {}).items() if k != "sha256"})
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(obj.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, Mapping):
        h.update(b"{")
        for k in sorted(obj, key=repr):
            h.update(repr(k).encode() + b":")
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for v in obj:
            _feed(h, v)
            h.update(b",")
        h.update(b"]")
    else:  # None, bool, int, float, str, bytes, torch.Size, dtypes: their type and repr
        h.update(f"{type(obj).__name__}={obj!r};".encode())


def nonfinite_tensors(state: Mapping[str, Any]) -> list[str]:
    """Names of floating tensors in ``state`` that hold NaN or Inf."""
    return [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.is_floating_point()
            and not bool(torch.isfinite(v).all())]  # fmt: skip


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a pinnkit checkpoint with ``weights_only=True`` and verify it; :class:`CheckpointError` says why not."""
    path = Path(path)
    if path.is_dir():
        found = sorted(str(p) for p in path.rglob("*.ckpt"))[:3]
        hint = f" it holds {found}" if found else " it holds no .ckpt file"
        raise CheckpointError(f"checkpoint {str(path)!r} is a directory, not a checkpoint file;{hint}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            raise CheckpointError(
                f"checkpoint {str(path)!r} holds Python objects beyond tensors and plain data (pickled classes or "
                "calls, which would run code on loading). pinnkit loads checkpoints with weights_only=True and "
                "refuses it: it was not written by pinnkit, or was altered or corrupted"
            ) from None
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or not a torch checkpoint: {err}") from err
    except Exception as err:  # zip, torch and pickle errors alike: the file is not a readable checkpoint
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or not a torch checkpoint: {err}") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or not isinstance(ckpt.get("pinnkit"), dict):
        raise CheckpointError(f"{str(path)!r} is not a pinnkit checkpoint (no state_dict / pinnkit section)")
    meta = ckpt["pinnkit"]
    if meta.get("format") != FORMAT or "sha256" not in meta:
        raise CheckpointError(
            f"checkpoint {str(path)!r} was written by an earlier pinnkit (format {meta.get('format', 1)}, this one "
            f"reads {FORMAT}) without a run identity and content hash, so it cannot be verified; retrain"
        )
    if content_hash(ckpt) != meta["sha256"]:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt: its content does not match the SHA-256 stored when it was "
            "written (bytes changed on disk or in transfer). Use another checkpoint, e.g. best.ckpt"
        )
    return ckpt


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O for pinnkit runs (set on every strategy through ``Trainer(plugins=[...])``).

    ``save_checkpoint`` refuses non-finite parameters, adds ``pinnkit.sha256`` and writes atomically;
    ``load_checkpoint`` always loads with ``weights_only=True`` and verifies. ``saved`` maps each path written
    by this process to the step it holds (used to say truthfully which checkpoint a stopped run kept).
    """

    def __init__(self) -> None:
        self.saved: dict[str, int] = {}

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        bad = nonfinite_tensors(checkpoint.get("state_dict", {}))
        if bad:
            raise NonFiniteParametersError(
                f"not writing {str(path)!r}: parameters {bad[:3]} hold NaN/Inf (the earlier checkpoint is kept)"
            )
        checkpoint.setdefault("pinnkit", {})
        checkpoint["pinnkit"]["sha256"] = content_hash(checkpoint)
        save_torch(checkpoint, path)
        self.saved[str(path)] = int(checkpoint.get("global_step", -1))

    def load_checkpoint(
        self, path: Any, map_location: Callable | Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        if weights_only is False:
            raise CheckpointError("pinnkit loads checkpoints with weights_only=True only: no code runs from a file")
        return read_checkpoint(path, map_location=map_location or "cpu")

    def last_kept(self, directory: Path) -> tuple[str, int] | None:
        """The newest checkpoint this process wrote under ``directory`` that is still there: ``(path, step)``."""
        kept = [(p, s) for p, s in self.saved.items() if Path(p).parent == Path(directory) and Path(p).is_file()]
        return max(kept, key=lambda ps: (ps[1], Path(ps[0]).name == "last.ckpt")) if kept else None
