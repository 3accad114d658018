"""A one-node SLURM cluster on this machine, for the multi-node tests and for trying SLURM runs by hand.

Needs Debian's ``slurm-wlm`` (``apt-get install -y slurm-wlm``, which brings ``munge``) and root. It writes
``slurm.conf`` for this host (all its CPUs, one partition ``debug``) into a directory of its own, starts ``munged``
when no munge daemon answers, then ``slurmctld`` and ``slurmd``, and waits until the node is idle. Nothing under
``/etc/slurm`` is touched: clients find the cluster through ``SLURM_CONF``.

    python -m tests.slurm_cluster start /tmp/slurm    # prints: export SLURM_CONF=/tmp/slurm/slurm.conf
    python -m tests.slurm_cluster stop /tmp/slurm

In a test: ``with cluster(tmp_path) as env: subprocess.run([...], env=env)``; :class:`Unavailable` says why a
cluster could not start (the tests skip with that reason).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo")


class Unavailable(RuntimeError):
    """SLURM cannot run here (not installed, not root, or a daemon did not come up); the message says which."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return int(pages * size / 2**20 * 0.9)


def write_conf(root: Path) -> Path:
    """``root/slurm.conf`` for one node (this host, all its CPUs) and one default partition; state, spool, logs
    and pid files under ``root``. Consumable CPUs, so two 1-CPU jobs run side by side."""
    host = socket.gethostname()
    for sub in ("state", "spool"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    lines = {
        "ClusterName": "pinnkit",
        "SlurmctldHost": host,
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "SlurmctldPort": _free_port(),
        "SlurmdPort": _free_port(),
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "StateSaveLocation": root / "state",
        "SlurmdSpoolDir": root / "spool",
        "SlurmctldPidFile": root / "slurmctld.pid",
        "SlurmdPidFile": root / "slurmd.pid",
        "SlurmctldLogFile": root / "slurmctld.log",
        "SlurmdLogFile": root / "slurmd.log",
        "ProctrackType": "proctrack/linuxproc",  # no cgroups in a container
        "TaskPlugin": "task/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_CPU",
        "MpiDefault": "none",
        "ReturnToService": 2,
        "JobRequeue": 1,
        "KillWait": 30,  # seconds between SIGTERM and SIGKILL when a job is cancelled or requeued
        "SchedulerParameters": "sched_interval=1",
    }
    text = "".join(f"{k}={v}\n" for k, v in lines.items())
    text += f"NodeName={host} CPUs={os.cpu_count()} RealMemory={_memory_mb()} State=UNKNOWN\n"
    text += f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP\n"
    conf = root / "slurm.conf"
    conf.write_text(text)
    return conf


def _munge_answers() -> bool:
    if shutil.which("munge") is None:
        return False
    enc = subprocess.run(["munge", "-n"], capture_output=True)
    return enc.returncode == 0 and subprocess.run(["unmunge"], input=enc.stdout, capture_output=True).returncode == 0


def start_munge() -> None:
    """Start ``munged`` as the ``munge`` user (its key comes with the package) unless a daemon already answers."""
    if _munge_answers():
        return
    if shutil.which("munged") is None:
        raise Unavailable("munged is not installed (apt-get install -y slurm-wlm brings it)")
    subprocess.run(["install", "-d", "-o", "munge", "-g", "munge", "-m", "0755", "/run/munge"], check=True)
    proc = subprocess.run(["runuser", "-u", "munge", "--", "munged"], capture_output=True, text=True)
    for _ in range(50):
        if _munge_answers():
            return
        time.sleep(0.1)
    raise Unavailable(f"munged did not start: {proc.stderr.strip() or proc.stdout.strip()}")


def _node_state(env: dict[str, str]) -> str:
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def start(root: Path, timeout: float = 30.0) -> dict[str, str]:
    """Write the config, start munge and both daemons; return the environment for clients (``SLURM_CONF``)."""
    missing = [p for p in (*DAEMONS, *CLIENTS) if shutil.which(p) is None]
    if missing:
        raise Unavailable(f"{', '.join(missing)} not found: install Debian's slurm-wlm (apt-get install -y slurm-wlm)")
    if os.geteuid() != 0:
        raise Unavailable("the SLURM daemons of this test cluster run as root; this process is not root")
    root = Path(root).resolve()
    conf = write_conf(root)
    start_munge()
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for daemon in DAEMONS:
        proc = subprocess.run([daemon, "-f", str(conf)], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            stop(root)
            raise Unavailable(f"{daemon} did not start: {proc.stderr.strip()} (log: {root / (daemon + '.log')})")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _node_state(env) in ("idle", "mixed", "allocated"):
            return env
        time.sleep(0.5)
    logs = "".join((root / f"{d}.log").read_text()[-1500:] for d in DAEMONS if (root / f"{d}.log").exists())
    stop(root)
    raise Unavailable(f"the node did not become idle in {timeout:.0f} s (state {_node_state(env)!r}); logs:\n{logs}")


def stop(root: Path) -> None:
    """Stop both daemons (SIGTERM, then SIGKILL after 10 s); their jobs end with them."""
    root = Path(root).resolve()
    for daemon in reversed(DAEMONS):
        pidfile = root / f"{daemon}.pid"
        if not pidfile.is_file():
            continue
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
        except (ValueError, ProcessLookupError):
            continue
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)


@contextmanager
def cluster(root: Path) -> Iterator[dict[str, str]]:
    """A running cluster for the ``with`` block; yields the clients' environment."""
    env = start(root)
    try:
        yield env
    finally:
        stop(root)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: python -m tests.slurm_cluster start|stop <directory>")
    if sys.argv[1] == "start":
        try:
            start(Path(sys.argv[2]))
        except Unavailable as err:
            sys.exit(f"slurm_cluster: {err}")
        print(f"export SLURM_CONF={Path(sys.argv[2]).resolve() / 'slurm.conf'}")
    else:
        stop(Path(sys.argv[2]))
