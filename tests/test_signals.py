"""Signals end a run honestly: SIGTERM (pre-emption) and SIGINT write a final checkpoint and summary.json with
``stopped: "signal"`` and exit 128 + the signal; the run resumes from there with the losses of an uninterrupted
run; a SLURM requeue (Lightning's SIGUSR1 checkpoint, then SIGTERM) continues in the same directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_runs import FAST, _losses

ROOT = Path(__file__).resolve().parents[1]
COMMON = [*FAST, "trainer.precision=64", "trainer.val_check_interval=5", "optim.scheduler.step_size=7",
          "trainer.max_steps=12"]  # fmt: skip


def _start(run: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "tests/fault_runner.py", str(run), *args, "--", *COMMON]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_checkpoints_summarises_and_exits_nonzero_and_the_run_resumes_exactly(tmp_path, sig):
    from pinnkit.checkpoints import read_checkpoint
    from pinnkit.rundir import RunDirError

    run = tmp_path / "run"
    proc = _start(run, "--pause-at", "7")
    _wait_for(run / ".paused", proc)
    with pytest.raises(RunDirError, match=rf"is in use by another run \(pid {proc.pid} on "):
        train(compose_cfg(run, *COMMON))  # an independent second run into the directory in use
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "signal" and summary["stop_message"] == f"stopped by {sig.name} at step 7"
    assert summary["steps"] == 7 and (run / "solution.npz").is_file()
    ckpt = run / "checkpoints" / "last.ckpt"
    assert read_checkpoint(ckpt)["global_step"] == 7
    resumed = train(compose_cfg(run, *COMMON, f"ckpt_path={ckpt}"))  # resume in its own directory
    assert resumed["steps"] == 12 and [s["steps"] for s in resumed["segments"]] == [[0, 7], [7, 12]]
    assert resumed["time_s"] == pytest.approx(sum(s["time_s"] for s in resumed["segments"]))
    assert resumed["it_per_s"] == pytest.approx(12 / resumed["time_s"])  # over both segments
    if sig == signal.SIGTERM:  # the interrupted + resumed losses are an uninterrupted run's, step for step
        train(compose_cfg(tmp_path / "full", *COMMON))
        a = _losses(tmp_path / "full")
        b = {}
        for path in sorted(run.glob("csv/*/metrics.csv")):
            b.update(_losses_of(path))
        assert sorted(b) == sorted(a) == list(range(12))
        for k in a:
            assert abs(a[k] - b[k]) <= 1e-12 * max(1.0, abs(a[k])), (k, a[k], b[k])


def _losses_of(path: Path) -> dict[int, float]:
    import csv

    with open(path) as f:
        return {int(r["step"]): float(r["train/loss"]) for r in csv.DictReader(f) if r.get("train/loss")}


def test_the_command_line_exits_143_on_sigterm(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "train.py", "logger=csv", "trainer.enable_progress_bar=false", "model.width=8",
           "trainer.max_steps=100000", "trainer.val_check_interval=5", f"hydra.run.dir={run}"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for(run / "checkpoints" / "last.ckpt", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "stopped by SIGTERM" in err, err[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "signal" and 5 <= summary["steps"] < 100000


def test_a_listened_sigusr2_stops_cleanly_then_reaches_its_listener(tmp_path):
    """submitit's jobs listen for SIGUSR2 (time limit, pre-emption) to requeue themselves: the run stops after the
    current step, writes last.ckpt and the summary, and only then hands the signal to that listener."""
    run = tmp_path / "run"
    proc = _start(run, "--pause-at", "6", "--listen-usr2")
    _wait_for(run / ".paused", proc)
    proc.send_signal(signal.SIGUSR2)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGUSR2, err[-3000:]
    assert json.loads((run / ".handed").read_text()) == {"signum": signal.SIGUSR2, "ckpt_step": 6}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "signal" and summary["stop_message"] == "stopped by SIGUSR2 at step 6"


def test_a_slurm_requeue_continues_in_the_same_directory(tmp_path):
    """Lightning's SLURM plugin: SIGUSR1 writes hpc_ckpt_1.ckpt and calls ``scontrol requeue <job>``; SLURM then
    sends SIGTERM. The requeued job (SLURM_RESTART_COUNT=1, same directory, no ckpt_path) resumes from the
    newest checkpoint and ends with the losses of an uninterrupted run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/scontrol_args\n')
    (bin_dir / "scontrol").chmod(0o755)
    slurm = {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "pinnkit", "SLURM_JOB_ID": "4242", "SLURM_PROCID": "0",
             "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NODELIST": "localhost"}  # fmt: skip
    env = {**os.environ, **slurm, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_RESTART_COUNT": "0"}
    run = tmp_path / "run"
    proc = _start(run, "--pause-at", "4", env=env)
    _wait_for(run / ".paused", proc)
    proc.send_signal(signal.SIGUSR1)
    _wait_for(tmp_path / "scontrol_args", proc)
    assert (tmp_path / "scontrol_args").read_text().split() == ["requeue", "4242"]
    from pinnkit.checkpoints import read_checkpoint

    assert read_checkpoint(run / "hpc_ckpt_1.ckpt")["global_step"] == 4  # written through pinnkit's safe I/O
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    requeued = _start(run, env={**env, "SLURM_RESTART_COUNT": "1"})
    _, err = requeued.communicate(timeout=300)
    assert requeued.returncode == 0, err[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 12 and [s["steps"] for s in summary["segments"]] == [[0, 4], [4, 12]]
    train(compose_cfg(tmp_path / "full", *COMMON))
    a, b = _losses(tmp_path / "full"), {}
    for path in sorted(run.glob("csv/*/metrics.csv")):
        b.update(_losses_of(path))
    assert sorted(b) == list(range(12)) and all(abs(a[k] - b[k]) <= 1e-12 * max(1.0, abs(a[k])) for k in a)
