"""pinnkit as a library a user installs: the wheel carries the configs, installs non-editable into a fresh
environment, ``pinnkit-train pde=heat`` runs from a directory outside the repository, and a user's own project (its
PDE class and ``conf/pde/<name>.yaml``) trains through it with no edit to pinnkit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.test_docs import users_project

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(cmd: list, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh environment holding the wheel (not this checkout): the dependencies come from this environment's
    site-packages as a plain path, so its editable pinnkit is not seen."""
    tmp = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", ROOT], tmp)
    (wheel,) = (tmp / "dist").glob("pinnkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"pinnkit/conf/train.yaml", "pinnkit/conf/pde/heat.yaml", "pinnkit/conf/experiment/burgers.yaml"} <= set(
        names
    )
    env = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", env], tmp)
    (site,) = (env / "lib").glob("python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", env / "bin" / "python", "install", "--no-deps", wheel], tmp)
    where = _run([env / "bin" / "python", "-c", "import pinnkit; print(pinnkit.__file__)"], tmp).stdout.strip()
    assert Path(where).is_relative_to(env), where  # the installed copy, not this checkout
    return env


def test_the_installed_command_trains_heat_outside_the_repository(venv, tmp_path):
    _run([venv / "bin" / "pinnkit-train", "pde=heat", "trainer.max_steps=5", "logger=csv",
          "trainer.enable_progress_bar=false", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)  # fmt: skip
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 5 and summary["pde"] == "heat" and (tmp_path / "run" / "solution.npz").is_file()


def test_a_users_project_trains_through_the_installed_command(venv, tmp_path):
    project, words = users_project(tmp_path)
    _run([venv / "bin" / words[0], *words[1:], "pde.nt=11", "pde.nx=21", "trainer.max_steps=5", "logger=csv",
          "trainer.enable_progress_bar=false", f"hydra.run.dir={tmp_path / 'run'}"], project)  # fmt: skip
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["pde"] == "fisher" and summary["steps"] == 5


@pytest.mark.parametrize(
    ("script", "expect"),
    [
        ("no_reference.py", "objective val/loss"),
        ("inverse_csv.py", "kappa learned"),
        ("custom_net.py", "heat with SineResidualNet"),
    ],
)
def test_the_examples_run_from_the_installed_wheel(venv, tmp_path, script, expect):
    """Each script copied out of the repository and run by the fresh environment's python (short runs)."""
    copy = tmp_path / script
    copy.write_text((ROOT / "examples" / script).read_text())
    args = ["10"] if script == "custom_net.py" else ["10", tmp_path / "out"]
    proc = _run([venv / "bin" / "python", copy, *args], tmp_path)
    assert expect in proc.stdout, proc.stdout
