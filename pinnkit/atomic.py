"""Writes that survive faults: every file pinnkit writes goes through :func:`atomic_open`.

The data goes to a temp file in the target's own directory (so the final rename never crosses filesystems),
is flushed and fsynced, then renamed over the target and the directory entry fsynced. A reader sees the old
file or the whole new one, never a part; a failed write (full disk, I/O error, an exception while writing)
removes its temp file and leaves the previous file as it was; a kill mid-write leaves at most a temp file,
named ``.<name>.pinnkit-tmp-<host>-<pid>-<random>``, which :func:`remove_stale_temps` clears at the next start.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMP_MARK = ".pinnkit-tmp-"
_TEMP_RE = re.compile(re.escape(TEMP_MARK) + r"(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{8}$")
STALE_AGE_S = 24 * 3600  # a temp file this old is stale whoever wrote it (another host, a reused pid)


def temp_path(path: Path) -> Path:
    """A fresh temp name beside ``path`` that names this host and process."""
    return path.with_name(f".{path.name}{TEMP_MARK}{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}")


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """``with atomic_open(path) as f: f.write(...)``: ``path`` is replaced only once everything is on disk.

    A full disk raises ``OSError(ENOSPC)`` naming the file and saying the previous one is kept.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        full = disk_full(err)
        if full is not None:
            kept = "the previous file is kept" if path.exists() else "no earlier version existed"
            raise OSError(
                full.errno, f"no space left on the device while writing {str(path)!r} ({kept}); free some space"
            ) from err
        raise
    fsync_dir(path.parent)


def disk_full(err: BaseException | None) -> OSError | None:
    """The full-disk ``OSError`` behind ``err``, if any: ``err`` itself or one it was raised while handling (torch's
    zip writer reports a failed write as a ``RuntimeError`` raised during the ``OSError``)."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return err
        err = err.__cause__ or err.__context__
    return None


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def write_json(path: str | Path, data: Any) -> None:
    """``data`` as indented JSON (non-JSON values by ``str``)."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_csv(path: str | Path, rows: list[dict[str, Any]], fieldnames: list[str] | None = None) -> None:
    """``rows`` as CSV with a header (``fieldnames``: every key in first-seen order unless given; extra keys are
    dropped)."""
    import csv

    buf = io.StringIO()
    names = fieldnames or list(dict.fromkeys(k for r in rows for k in r))
    w = csv.DictWriter(buf, fieldnames=names, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def save_npz(path: str | Path, **arrays: Any) -> None:
    """``numpy.savez_compressed`` to exactly ``path`` (numpy would append ``.npz`` to a bare name)."""
    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes(path, buf.getvalue())


def save_torch(obj: Any, path: str | Path) -> None:
    """``torch.save(obj)`` to ``path`` through a temp file."""
    import torch

    with atomic_open(path, "wb") as f:
        torch.save(obj, f)


def save_figure(fig: Any, path: str | Path, **kwargs: Any) -> None:
    """``fig.savefig`` to ``path`` (format from its suffix) through a temp file."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", **kwargs)
    write_bytes(path, buf.getvalue())


def remove_stale_temps(directory: str | Path, owned: bool = False) -> list[Path]:
    """Remove temp files a killed writer left under ``directory`` (recursively); return them.

    ``owned``: the caller holds ``directory`` exclusively (a run's locked directory), so every temp file in it
    is stale. Otherwise (a shared cache) only those of dead processes on this host, or older than a day.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    host, now, removed = socket.gethostname(), time.time(), []
    for p in directory.rglob(f"*{TEMP_MARK}*"):
        m = _TEMP_RE.search(p.name)
        if m is None or not p.is_file():
            continue
        try:
            stale = owned or now - p.stat().st_mtime > STALE_AGE_S
            stale = stale or (m["host"] == host and not _alive(int(m["pid"])))
            if stale:
                p.unlink()
                removed.append(p)
        except OSError:  # gone already, or not ours to remove
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
