"""A real SLURM cluster on this machine (slow; :mod:`tests.slurm_cluster`: ``slurmctld`` + ``slurmd`` of Debian's
``slurm-wlm``, one node). ``python train.py -m hydra/launcher=slurm ...`` goes through the submitit launcher: a
2-job sweep, one 2-task DDP job, and a job pre-empted (``scontrol requeue``, or submitit's time-limit signal
SIGUSR2) that resumes from its checkpoint at the step it stopped and ends with an uninterrupted run's losses.
Skipped, with the reason, where the daemons cannot start."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.slurm_cluster import Unavailable, start, stop
from tests.test_ddp import COMMON, _train_here
from tests.test_multinode_slow import _assert_same_outputs
from tests.test_signals import _losses_of

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# hydra/launcher=slurm asks for a GPU node by default (gpus_per_node=1, 8 CPUs, 32 GB): a CPU node asks for less.
# submitit counts a job as timed out (not pre-empted) once 80% of its time (at most all but 10 min) has passed
CPU_NODE = ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=null", "hydra.launcher.cpus_per_task=1",
            "hydra.launcher.mem_gb=null", "hydra.launcher.timeout_min=60"]  # fmt: skip


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm")
    try:
        env = start(root)
    except Unavailable as err:
        pytest.skip(f"no SLURM cluster on this machine: {err}")
    yield env
    stop(root)


def _sweep(env: dict, sweep: Path, *overrides: str) -> subprocess.Popen:
    cmd = [sys.executable, "train.py", "-m", *CPU_NODE, *overrides, f"hydra.sweep.dir={sweep}"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait(proc: subprocess.Popen, limit: float = 600) -> None:
    _, err = proc.communicate(timeout=limit)
    assert proc.returncode == 0, err[-3000:]


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_a_two_job_sweep_runs_as_slurm_jobs(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    _wait(_sweep(slurm, sweep, "derivative=autograd,taylor", *COMMON))
    ids = set()
    for job, derivative in enumerate(["autograd", "taylor"]):
        summary = _summary(sweep / str(job))
        assert summary["derivative"] == derivative and summary["steps"] == 8
        assert summary["cluster"]["environment"] is None and summary["cluster"]["slurm_job_id"]  # one task
        ids.add(summary["cluster"]["slurm_job_id"])
        _train_here(tmp_path / f"local{job}", *COMMON, f"derivative={derivative}")
        _assert_same_outputs(sweep / str(job), tmp_path / f"local{job}")  # a SLURM job trains as a local run
    assert len(ids) == 2


def test_a_two_task_ddp_job_equals_one_process(slurm, tmp_path):
    sweep = tmp_path / "ddp"
    ddp = ["trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu", "hydra.launcher.tasks_per_node=2"]
    _wait(_sweep(slurm, sweep, *COMMON, *ddp))
    summary = _summary(sweep / "0")
    assert summary["world_size"] == 2 and summary["ranks_in_sync"] is True
    assert summary["cluster"]["environment"] == "SLURMEnvironment"
    _train_here(tmp_path / "one", *COMMON)
    _assert_same_outputs(sweep / "0", tmp_path / "one")
    assert sorted(p.name for p in (sweep / "0" / "csv").iterdir()) == ["version_0"]  # rank 0 logs, once
    assert sorted(p.name for p in (sweep / "0" / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]


# how a running job is pre-empted: SLURM's requeue (SIGTERM, then back into the queue), or the signal submitit's
# jobs ask SLURM for before their time limit (SIGUSR2: pinnkit stops, then submitit requeues the job)
PREEMPT = {"requeue": (["scontrol", "requeue"], "SIGTERM"), "usr2": (["scancel", "--signal=USR2"], "SIGUSR2")}


@pytest.mark.parametrize("how", sorted(PREEMPT))
def test_a_requeued_job_resumes_from_its_checkpoint_and_loses_no_step(slurm, tmp_path, how):
    sweep, steps = tmp_path / "requeue", 1500
    long = [*COMMON, "optim=adam", f"trainer.max_steps={steps}", "trainer.val_check_interval=100",
            "trainer.log_every_n_steps=1"]  # fmt: skip
    proc = _sweep(slurm, sweep, *long)
    run, deadline = sweep / "0", time.monotonic() + 120
    while not (run / "checkpoints" / "best.ckpt").exists():  # the first validation: the job is training
        assert proc.poll() is None and time.monotonic() < deadline, "the job did not start training"
        time.sleep(0.1)
    (job,) = subprocess.run(["squeue", "-h", "-o", "%i"], env=slurm, capture_output=True, text=True).stdout.split()
    command, name = PREEMPT[how]
    subprocess.run([*command, job], env=slurm, check=True)
    deadline = time.monotonic() + 60
    while "PENDING" not in subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], env=slurm, capture_output=True,
                                          text=True).stdout:  # fmt: skip
        assert time.monotonic() < deadline, "the job was not requeued"
        time.sleep(0.2)
    stopped = _summary(run)
    assert stopped["stopped"] == "signal" and 0 < stopped["steps"] < steps, stopped["stop_message"]
    assert stopped["stop_message"] == f"stopped by {name} at step {stopped['steps']}"
    # SLURM holds a requeued batch job for two minutes before it may start again; release it now
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], env=slurm, check=True)
    _wait(proc)
    summary = _summary(run)
    k = stopped["steps"]
    assert summary["stopped"] is None and summary["cluster"]["slurm_restarts"] == 1
    assert [s["steps"] for s in summary["segments"]] == [[0, k], [k, steps]]  # resumed at the step it stopped
    _train_here(tmp_path / "full", *long)
    _assert_same_outputs(run, tmp_path / "full")
    a, b = _losses_of(next((tmp_path / "full").glob("csv/*/metrics.csv"))), {}
    for path in sorted(run.glob("csv/*/metrics.csv")):
        b.update(_losses_of(path))
    assert sorted(a) == sorted(b) == list(range(steps))
    worst = max(abs(a[i] - b[i]) / abs(a[i]) for i in a)
    assert worst <= 1e-9, worst
