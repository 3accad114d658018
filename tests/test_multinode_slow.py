"""Two nodes on localhost (slow): two processes that each play one node of a ``trainer.num_nodes=2
trainer.devices=1`` run (gloo, CPU), started the two ways a cluster starts them: Lightning's own environment
variables (``MASTER_ADDR``, ``MASTER_PORT``, ``NODE_RANK``) and ``torchrun --nnodes=2`` per node. The run's outputs
(parameters, validation error, solution) are those of one process on the same global batch (float64, 1e-9); it
leaves one CSV and one W&B run and one set of checkpoints; pre-empted (SIGTERM on both nodes), it resumes on two
nodes and ends where the uninterrupted two-node run ends, step for step."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_ddp import COMMON, _train_here
from tests.test_signals import _losses_of

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
STEPS = [*COMMON, "trainer.max_steps=12", "trainer.log_every_n_steps=1"]
NODES = ["trainer=multinode", "trainer.num_nodes=2", "trainer.devices=1", "trainer.accelerator=cpu"]
ENVIRONMENT = {"lightning": "LightningEnvironment", "torchrun": "TorchElasticEnvironment"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_nodes(launch: str, script: list[str]) -> list[subprocess.Popen]:
    """Both nodes of one run; ``script``: the program and its arguments, as one node runs them."""
    port, procs = _port(), []
    for node in (0, 1):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        if launch == "lightning":
            env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), NODE_RANK=str(node))
            cmd = [sys.executable, *script]
        else:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
                   f"--node-rank={node}", "--master-addr=127.0.0.1", f"--master-port={port}", *script]  # fmt: skip
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True))  # fmt: skip
    return procs


def _finish(procs: list[subprocess.Popen], code: int = 0) -> None:
    for node, proc in enumerate(procs):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == code, f"node {node} exited {proc.returncode}:\n{err[-3000:]}"


def _params(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]


def _assert_same_outputs(a: Path, b: Path, tol: float = 1e-9) -> None:
    pa, pb = _params(a), _params(b)
    assert pa.keys() == pb.keys()
    for k in pa:
        torch.testing.assert_close(pa[k], pb[k], rtol=tol, atol=tol * 1e-2, msg=lambda m, k=k: f"{k}: {m}")
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (a, b))
    assert abs(sa["val/l2_rel"] - sb["val/l2_rel"]) <= tol * sb["val/l2_rel"]
    with np.load(a / "solution.npz") as ua, np.load(b / "solution.npz") as ub:
        np.testing.assert_allclose(ua["u_pred"], ub["u_pred"], rtol=tol, atol=tol * 1e-2)


def _run_files(run: Path) -> dict[str, list[str]]:
    return {
        "csv": sorted(p.name for p in (run / "csv").iterdir()),
        "wandb": sorted(p.name.rsplit("-", 1)[-1] for p in (run / "wandb").glob("offline-run-*")),
        "checkpoints": sorted(p.name for p in (run / "checkpoints").iterdir()),
        "stray": sorted(p.name for p in run.glob("*.ckpt")),  # Lightning's hpc_ckpt_<n> (SLURM requeue only)
    }


@pytest.mark.parametrize("launch", ["lightning", "torchrun"])
def test_two_nodes_on_localhost_equal_one_process(tmp_path, launch):
    run = tmp_path / "two_nodes"
    _finish(_start_nodes(launch, ["train.py", *STEPS, *NODES, "logger=wandb", f"hydra.run.dir={run}"]))
    _train_here(tmp_path / "one", *STEPS)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["ranks_in_sync"] is True and summary["steps"] == 12
    assert summary["cluster"]["environment"] == ENVIRONMENT[launch] and summary["cluster"]["num_nodes"] == 2
    _assert_same_outputs(run, tmp_path / "one")
    files = _run_files(run)  # written once, by global rank 0: one CSV run, one W&B run, one set of checkpoints
    assert files == {"csv": ["version_0"], "wandb": files["wandb"][:1], "checkpoints": ["best.ckpt", "last.ckpt"],
                     "stray": []}  # fmt: skip
    assert len(files["wandb"]) == 1


def test_two_nodes_preempted_resume_on_two_nodes_without_losing_a_step(tmp_path):
    full, run = tmp_path / "full", tmp_path / "preempted"
    _finish(_start_nodes("lightning", ["train.py", *STEPS, *NODES, f"hydra.run.dir={full}"]))
    procs = _start_nodes("lightning", ["tests/fault_runner.py", str(run), "--pause-at", "5", "--", *STEPS, *NODES])
    deadline = time.monotonic() + 120
    while not (run / ".paused").exists():  # both nodes stop at step 5: the pre-emption lands mid-run
        assert all(p.poll() is None for p in procs) and time.monotonic() < deadline, "the nodes did not reach step 5"
        time.sleep(0.05)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    _finish(procs, code=128 + signal.SIGTERM)
    stopped = json.loads((run / "summary.json").read_text())
    assert stopped["stopped"] == "signal" and stopped["steps"] == 5
    ckpt = run / "checkpoints" / "last.ckpt"
    _finish(_start_nodes("lightning", ["train.py", *STEPS, *NODES, f"ckpt_path={ckpt}", f"hydra.run.dir={run}"]))
    resumed = json.loads((run / "summary.json").read_text())
    assert [s["steps"] for s in resumed["segments"]] == [[0, 5], [5, 12]] and resumed["ranks_in_sync"] is True
    _assert_same_outputs(run, full)
    a, b = _losses_of(next(full.glob("csv/*/metrics.csv"))), {}
    for path in sorted(run.glob("csv/*/metrics.csv")):  # one CSV run a segment
        b.update(_losses_of(path))
    assert sorted(a) == sorted(b) == list(range(12))  # rank 0's share of each step's loss, every step once
    for k in a:
        assert abs(a[k] - b[k]) <= 1e-9 * abs(a[k]), (k, a[k], b[k])
