"""A training run in its own process, for the fault tests (signals, kills during writes).

``python tests/fault_runner.py RUN_DIR [--pause-at K] [--hang-writing NAME] -- OVERRIDES...``

- ``--pause-at K``: after step K's batch, write ``RUN_DIR/.paused`` and wait (up to 60 s) until a SIGTERM/SIGINT has
  reached Lightning or the test writes ``RUN_DIR/.go``, so signals land at a known step.
- ``--listen-usr2``: a SIGUSR2 handler is installed before the run, as submitit installs its requeue handler;
  when called it writes ``RUN_DIR/.handed`` (the signal and the step of ``checkpoints/last.ckpt`` at that moment).
- ``--hang-writing NAME``: the first atomic write of a file called NAME that comes after one completed write of it
  stops after writing its temp file (before fsync and rename), writes ``RUN_DIR/.hung`` and sleeps: the test
  then kills the process with SIGKILL mid-write.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lightning as L  # noqa: E402

from pinnkit import atomic  # noqa: E402
from pinnkit.train import run  # noqa: E402
from tests.conftest import compose_cfg  # noqa: E402


class Pause(L.Callback):
    def __init__(self, step: int, marker: Path) -> None:
        self.step, self.marker = step, marker

    def on_train_batch_end(self, trainer, module, *args) -> None:
        if trainer.global_step == self.step:
            self.marker.write_text(str(self.step))
            go, deadline = self.marker.with_name(".go"), time.monotonic() + 60
            while not (trainer.received_sigterm or go.exists()) and time.monotonic() < deadline:
                time.sleep(0.02)


def hang_writing(name: str, marker: Path) -> None:
    real = atomic.os.fsync
    done = {"n": 0}

    def fsync(fd: int) -> None:
        path = Path(f"/proc/self/fd/{fd}").resolve()
        if path.name.startswith(f".{name}{atomic.TEMP_MARK}"):
            done["n"] += 1
            if done["n"] == 2:
                marker.write_text(str(path))
                time.sleep(600)
        real(fd)

    atomic.os.fsync = fsync


def listen_usr2(run_dir: Path) -> None:
    import json
    import signal

    from pinnkit.checkpoints import read_checkpoint

    def requeue(signum: int, frame: object) -> None:
        step = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["global_step"]
        (run_dir / ".handed").write_text(json.dumps({"signum": signum, "ckpt_step": step}))

    signal.signal(signal.SIGUSR2, requeue)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir", type=Path)
    p.add_argument("--pause-at", type=int)
    p.add_argument("--hang-writing")
    p.add_argument("--listen-usr2", action="store_true")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:cut])
    args.overrides = argv[cut + 1 :]
    callbacks = [Pause(args.pause_at, args.run_dir / ".paused")] if args.pause_at is not None else []
    if args.listen_usr2:
        listen_usr2(args.run_dir)
    if args.hang_writing:
        hang_writing(args.hang_writing, args.run_dir / ".hung")
    run(compose_cfg(args.run_dir, *args.overrides), callbacks)


if __name__ == "__main__":
    main()
