"""The scripts in ``examples/`` run as a user runs them (short)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_a_users_net_goes_through_taylor_and_trains():
    out = _run("examples/custom_net.py", "40")
    worst = float(re.search(r"max difference over .*: (\S+)", out).group(1))
    assert worst < 1e-10, out
    assert re.search(r"heat with SineResidualNet: rel L2 \S+ after 40 steps", out), out


def test_a_pde_without_a_reference_trains_from_python(tmp_path):
    out = _run("examples/no_reference.py", "20", str(tmp_path / "run"))
    assert "objective val/loss" in out and "after 20 steps" in out, out
    assert np.isfinite(np.load(tmp_path / "run" / "solution.npz")["u_pred"]).any()


def test_an_inverse_problem_from_a_csv_file(tmp_path):
    out = _run("examples/inverse_csv.py", "20", str(tmp_path))
    assert re.search(r"kappa learned \S+ \(true 0.1, started at 0.5\) from .*observations.csv after 20 steps", out)
    assert len((tmp_path / "observations.csv").read_text().splitlines()) == 2001  # the header and 2000 rows
