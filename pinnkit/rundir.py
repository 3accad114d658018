"""One run per run directory: a lock held for the run's life, and no fresh run over an old run's outputs.

- :func:`claim` takes an exclusive ``flock`` on ``<run dir>/.pinnkit.lock`` (released by the kernel when the
  process ends, kill -9 included). A second, independent run into the directory is refused, naming the holder.
  Only the launching process (rank 0 of node 0) locks: DDP ranks of the same run share the directory.
- A directory that holds an earlier run's outputs (:data:`OUTPUTS`) is refused to a fresh run unless
  ``overwrite=true``, which removes those outputs first. A resume from a checkpoint inside the directory, and a
  SLURM requeue of the job that wrote it, continue the run there.
- Temp files that a killed writer left in the directory are removed once the lock is held.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .atomic import remove_stale_temps

LOCK = ".pinnkit.lock"
OUTPUTS = ("checkpoints", "csv", "plots", "wandb", "summary.json", "solution.npz")  # what a run writes
RANK_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")  # set non-zero on non-launcher ranks


class RunDirError(RuntimeError):
    """The run directory is in use or holds another run's outputs."""


def launcher_process() -> bool:
    """Whether this process launches the run (not a DDP rank > 0 or a node > 0)."""
    return all(os.environ.get(v, "0") in ("", "0") for v in RANK_VARS)


def earlier_outputs(run_dir: Path) -> list[str]:
    """The outputs of :data:`OUTPUTS` in ``run_dir`` (a directory counts once it holds a file)."""
    out = []
    for name in OUTPUTS:
        p = run_dir / name
        if p.is_file() or (p.is_dir() and any(q.is_file() for q in p.rglob("*"))):
            out.append(name)
    return out


def requeued_checkpoint(run_dir: Path) -> Path | None:
    """Under a requeued SLURM job (``SLURM_RESTART_COUNT`` >= 1), the newest checkpoint the job left in
    ``run_dir``: Lightning's ``hpc_ckpt_<n>.ckpt`` (SIGUSR1) or pinnkit's ``checkpoints/last.ckpt``."""
    if int(os.environ.get("SLURM_RESTART_COUNT") or 0) < 1:
        return None
    found = [*run_dir.glob("hpc_ckpt_*.ckpt"), run_dir / "checkpoints" / "last.ckpt"]
    found = [p for p in found if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


@contextmanager
def claim(run_dir: Path, resuming_here: bool, overwrite: bool) -> Iterator[None]:
    """Hold ``run_dir`` for one run (see the module doc); ``resuming_here``: the run continues the outputs
    already in it (a resume from its own checkpoint, a requeue)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write_test.{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise OSError(
            f"cannot write the run directory {str(run_dir)!r} ({err}); set hydra.run.dir=<writable dir>"
        ) from err
    if not launcher_process():
        yield
        return
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "another process"
            raise RunDirError(
                f"run directory {str(run_dir)!r} is in use by another run ({holder}); give this run its own "
                "directory (hydra.run.dir=...) or wait for that one to end"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.ctime()}\n".encode(), 0)
        remove_stale_temps(run_dir, owned=True)
        used = earlier_outputs(run_dir)
        if used and not resuming_here:
            if not overwrite:
                raise RunDirError(
                    f"run directory {str(run_dir)!r} holds an earlier run's outputs {used}. Set overwrite=true to "
                    f"remove them, resume that run with ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}, or "
                    "give this run its own hydra.run.dir"
                )
            for name in used:
                p = run_dir / name
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        yield
    finally:
        os.close(fd)  # releases the lock


def inside(path: str | Path, run_dir: Path) -> bool:
    """Whether ``path`` lies inside ``run_dir``."""
    try:
        return Path(path).resolve().is_relative_to(run_dir.resolve())
    except OSError:
        return False
