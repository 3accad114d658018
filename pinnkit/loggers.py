"""Experiment loggers and run metadata: W&B (offline by default) or CSV, built from the ``logger`` config."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

PACKAGES = ("pinnkit", "torch", "lightning", "hydra-core", "wandb", "numpy")


def sweep_name() -> str | None:
    """In a Hydra multirun, the sweep's name (its directory, e.g. ``2026-11-24_18-40-00``); else ``None``."""
    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return None
    parts = Path(hc.sweep.dir).parts
    return "_".join(parts[-2:]) if len(parts) >= 2 else parts[-1]


def make_logger(
    cfg: DictConfig, run_dir: Path, pde_name: str, backend_name: str, run_id: str | None = None
) -> Logger | None:
    """Instantiate ``cfg.logger`` writing under ``run_dir``.

    W&B runs get a group (``logger.group``, else the sweep's name in a multirun, else the pde), tags (pde,
    backend, ``logger.tags``) and, when resuming, the checkpoint's run id (``resume="allow"``).
    """
    if cfg.get("logger") is None:
        return None
    kwargs: dict[str, Any] = {"save_dir": str(run_dir)}
    if cfg.logger.get("_target_", "").endswith("WandbLogger"):
        kwargs["group"] = cfg.logger.get("group") or sweep_name() or pde_name
        kwargs["tags"] = [pde_name, backend_name, *(cfg.logger.get("tags") or [])]
        if run_id:
            kwargs.update(id=run_id, resume="allow")
    node = {k: v for k, v in OmegaConf.to_container(cfg.logger, resolve=True).items() if k != "artifacts"}
    return instantiate(node, **kwargs)


def run_metadata(device: torch.device) -> dict[str, Any]:
    """Git SHA, package versions and device, logged with every run."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        cpu = platform.processor() or platform.machine()
        name = f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
    return {"git_sha": sha or None, "versions": versions, "device": f"{device.type}: {name}"}


def cluster_metadata(trainer: Any) -> dict[str, Any]:
    """How the run was launched: Lightning's cluster environment (``LightningEnvironment`` for processes it starts
    or that set ``NODE_RANK``/``MASTER_ADDR``, ``TorchElasticEnvironment`` under torchrun, ``SLURMEnvironment``
    under SLURM; ``None`` for one process), the node count and, under SLURM, the job id and how many times the job
    was requeued (``SLURM_RESTART_COUNT``)."""
    env = getattr(trainer.strategy, "cluster_environment", None)
    return {
        "environment": type(env).__name__ if env is not None else None,
        "num_nodes": trainer.num_nodes,
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "slurm_restarts": int(os.environ.get("SLURM_RESTART_COUNT") or 0),
    }


def record_outcome(logger: Logger | None, summary: dict[str, Any], files: list[Path], artifacts: bool) -> None:
    """On W&B: the run's outcome as its summary (final metrics, steps, wall time, speed, peak memory, how it
    stopped: every scalar of ``summary``) and, with ``artifacts``, ``files`` that exist (``solution.npz``, the best
    checkpoint) as one artifact of type ``results``. Other loggers: nothing (the run directory holds the same)."""
    if not isinstance(logger, WandbLogger):
        return
    import wandb

    run = logger.experiment
    run.summary.update({k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool)) or v is None})
    present = [f for f in files if f.is_file()]
    if artifacts and present:
        artifact = wandb.Artifact(f"results-{run.id}", type="results")
        for f in present:
            artifact.add_file(str(f), name=f.name)
        run.log_artifact(artifact)


def finish(logger: Logger | None) -> None:
    """Close a W&B run so the next job of a multirun starts its own."""
    if isinstance(logger, WandbLogger):
        import wandb

        wandb.finish()
