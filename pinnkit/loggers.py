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
from omegaconf import DictConfig

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
    return instantiate(cfg.logger, **kwargs)


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


def finish(logger: Logger | None) -> None:
    """Close a W&B run so the next job of a multirun starts its own."""
    if isinstance(logger, WandbLogger):
        import wandb

        wandb.finish()
