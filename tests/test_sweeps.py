"""Multirun sweeps end to end, the comparison script, and the sweep / launcher configs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir

from pinnkit.train import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
TINY = ["trainer.max_steps=6", "trainer.val_check_interval=3", "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false", "model.width=8", "model.depth=2", "data.points.interior=64",
        "data.val_points=64"]  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_2x2_multirun_sweep_and_its_comparison(tmp_path):
    sweep = tmp_path / "sweep"
    out = _run("train.py", "-m", "derivative=autograd,taylor", "pde=heat,poisson", *TINY, f"hydra.sweep.dir={sweep}")
    assert out.returncode == 0, out.stderr[-3000:]
    summaries = sorted(sweep.glob("*/summary.json"))
    assert len(summaries) == 4
    # each job finished its own W&B run, and the runs of one sweep share its group: the sweep's name
    records = [r.read_bytes() for r in sweep.glob("*/wandb/offline-run-*/*.wandb")]
    assert len(records) == 4
    group = f"{sweep.parent.name}_{sweep.name}".encode()
    assert all(group in r for r in records)
    from experiments.compare_runs import main as compare  # python experiments/compare_runs.py SWEEP, in-process

    compare([str(sweep)])
    table = (sweep / "comparison.md").read_text()
    for label in ("derivative=autograd pde=heat", "derivative=taylor pde=poisson"):
        assert label in table
    assert (sweep / "comparison.png").stat().st_size > 0 and (sweep / "comparison.csv").is_file()


def test_wandb_sweep_parameters_are_valid_overrides(tmp_path):
    spec = yaml.safe_load((Path(CONF_DIR) / "wandb_sweep" / "backends.yaml").read_text())
    assert spec["command"][-1] == "${args_no_hyphens}" and spec["program"] == "train.py"
    overrides = []
    for key, p in spec["parameters"].items():
        values = p.get("values", [p.get("value")])
        overrides.append(f"{key}={str(values[-1]).lower() if isinstance(values[-1], bool) else values[-1]}")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    assert cfg.derivative._target_.endswith("Taylor") and cfg.logger.offline is False


def test_launcher_and_sweeper_configs_compose():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        slurm = compose("train", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
        optuna = compose("train", overrides=["hydra/sweeper=lr_width"], return_hydra_config=True)
    assert slurm.hydra.launcher._target_.endswith("SlurmLauncher") and slurm.hydra.launcher.gpus_per_node == 1
    assert optuna.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert "optim.optimizer.lr" in optuna.hydra.sweeper.params


def test_submitit_local_launcher_runs_jobs(tmp_path):
    sweep = tmp_path / "sub"
    out = _run("train.py", "-m", "hydra/launcher=submitit_local", "derivative=autograd,taylor", "logger=csv", *TINY,
               f"hydra.sweep.dir={sweep}", "hydra.launcher.timeout_min=5")  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert len(list(sweep.glob("*/summary.json"))) == 2
