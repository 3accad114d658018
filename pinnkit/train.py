"""``train(cfg)``: build the PDE, network, derivative backend, module, logger and Trainer from a config and fit.

``train`` is a plain function (tests call it with a composed config); ``main`` is the ``@hydra.main`` entry
that ``python train.py ...`` runs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from omegaconf import DictConfig, OmegaConf

from .loggers import finish, make_logger, run_metadata
from .module import PINNModule

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def build(cfg: DictConfig) -> PINNModule:
    """The LightningModule a config describes (PDE, net sized to the PDE, backend, optimizer)."""
    pde = instantiate(cfg.pde)
    backend = instantiate(cfg.derivative)
    dims = {"in_dim": len(pde.axes), "out_dim": len(pde.fields)}
    box = {"lower": list(pde.domain.lower), "upper": list(pde.domain.upper), "axes": list(pde.axes)}
    net = instantiate(cfg.model, **dims, **box)
    return PINNModule(
        pde,
        net,
        backend,
        optimizer=instantiate(cfg.optim.optimizer),
        scheduler=instantiate(cfg.optim.scheduler) if cfg.optim.get("scheduler") else None,
        points=cfg.data.points,
        weights=cfg.get("loss_weights"),
        resample_every=cfg.data.resample_every,
        val_points=cfg.data.val_points,
        seed=cfg.seed,
        checks=cfg.checks,
    )


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit the run ``cfg`` describes; write ``summary.json`` in ``cfg.paths.output_dir`` and return it."""
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = build(cfg)
    logger = make_logger(cfg, run_dir, module.pde.name, module.derivative.name)
    checkpoint = ModelCheckpoint(
        dirpath=run_dir / "checkpoints", monitor="val/l2_rel", mode="min", save_last=True, filename="best"
    )
    callbacks: list[L.Callback] = [checkpoint]
    if cfg.trainer.get("enable_progress_bar", True):  # redrawing every step costs PINN steps ~30% on CPU
        callbacks.append(TQDMProgressBar(refresh_rate=int(cfg.get("progress_refresh", 1))))
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        logger=logger if logger is not None else False,
        callbacks=callbacks,
        default_root_dir=str(run_dir),
        inference_mode=False,  # residuals in validation need autograd
    )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    meta = run_metadata(trainer.strategy.root_device)
    try:
        if logger is not None:
            logger.log_hyperparams({"config": resolved, **meta})
        start = time.perf_counter()
        trainer.fit(module)
        wall = time.perf_counter() - start
        trainer.validate(module, verbose=False)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        summary = {
            **metrics,
            "steps": trainer.global_step,
            "time_s": wall,
            "it_per_s": trainer.global_step / wall if wall > 0 else None,
            "pde": module.pde.name,
            "derivative": module.derivative.name,
            **meta,
            "config": resolved,
        }
        if trainer.is_global_zero:
            write_json(run_dir / "summary.json", summary)
            print(f"val/l2_rel={summary['val/l2_rel']:.1e} steps={summary['steps']} time={wall:.0f}s")
        return summary
    finally:
        finish(logger)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically: a reader sees the old file or the whole new one, never half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    """``python train.py [overrides]``."""
    torch.set_num_threads(cfg.get("threads") or torch.get_num_threads())
    train(cfg)
