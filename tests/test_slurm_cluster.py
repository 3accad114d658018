"""The test cluster's script (fast: nothing started): its ``slurm.conf``, and a clear reason where SLURM cannot run."""

from __future__ import annotations

import os
import socket

import pytest

from tests import slurm_cluster
from tests.slurm_cluster import Unavailable, start, write_conf


def test_the_config_describes_one_node_with_every_cpu_and_its_own_files(tmp_path):
    conf = dict(line.split("=", 1) for line in write_conf(tmp_path).read_text().splitlines() if "=" in line)
    host = socket.gethostname()
    assert conf["SlurmctldHost"] == host and conf["SlurmctldPort"] != conf["SlurmdPort"]
    assert conf["NodeName"].startswith(f"{host} CPUs={os.cpu_count()} ")
    assert conf["StateSaveLocation"] == str(tmp_path / "state") and (tmp_path / "spool").is_dir()
    assert conf["SelectTypeParameters"] == "CR_CPU" and conf["JobRequeue"] == "1"  # jobs share the CPUs; requeue


def test_without_slurm_the_reason_names_the_install(tmp_path, monkeypatch):
    monkeypatch.setattr(slurm_cluster.shutil, "which", lambda name: None if name == "slurmd" else f"/bin/{name}")
    with pytest.raises(Unavailable, match=r"slurmd not found: install Debian's slurm-wlm \(apt-get install -y"):
        start(tmp_path)
    monkeypatch.setattr(slurm_cluster.shutil, "which", lambda name: f"/bin/{name}")
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 1000)
    with pytest.raises(Unavailable, match="run as root; this process is not root"):
        start(tmp_path)
