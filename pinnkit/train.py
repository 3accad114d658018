"""``train(cfg)``: build the PDE, network, derivative backend, module, logger and Trainer from a config and fit.

``train`` is a plain function (tests call it with a composed config); ``main`` is the ``@hydra.main`` entry
that ``python train.py ...`` runs.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from .atomic import write_json
from .build import build
from .checkpoints import SafeCheckpointIO, read_checkpoint
from .config_checks import MATMUL_PRECISIONS, check_config, check_fits
from .loggers import cluster_metadata, finish, make_logger, record_outcome, run_metadata
from .marching import is_march, march
from .plots import plot_losses
from .resume import check_resume, start_from
from .rundir import claim, inside, requeued_checkpoint
from .solution import save_solution
from .training import NonFiniteLossError, PINNModule, StepsPerBatch
from .training.callbacks import configured_callbacks
from .training.stopping import FinalCheckpoint, RunInterrupted, SignalStop
from .training.validation import objective

CONF_DIR = str(Path(__file__).resolve().parent / "conf")  # package data: found in a wheel install too


def batch_cadence(cfg: DictConfig, k: int) -> dict[str, int]:
    """Trainer arguments counted in Lightning batches for ``k`` optimizer steps per batch (the module's validated
    ``steps_per_batch``): ``val_check_interval`` (given in steps) becomes steps / k. Log cadence stays in steps (the
    module advances Lightning's logging counter per step). Both must be multiples of k, else a ``ValueError``."""
    if k == 1:
        return {}
    given = {"trainer.val_check_interval": cfg.trainer.get("val_check_interval"),
             "trainer.log_every_n_steps": cfg.trainer.get("log_every_n_steps", 50)}  # fmt: skip
    bad = [f"{name}={v}" for name, v in given.items() if not isinstance(v, int) or v % k]
    if bad:
        raise ValueError(
            f"steps_per_batch={k} runs {k} optimizer steps per Lightning batch, so {' and '.join(bad)} must be "
            f"whole multiples of {k} (they count optimizer steps)"
        )
    return {"val_check_interval": given["trainer.val_check_interval"] // k}


LOW_PRECISION = ("16", "bf16")


def check_precision(cfg: DictConfig) -> None:
    """Refuse half precisions for derivative losses (unless ``allow_low_precision``), with the reason."""
    precision = str(cfg.trainer.get("precision", "32-true"))
    if precision.split("-")[0] in LOW_PRECISION:
        msg = (
            f"trainer.precision={precision}: PINN residuals take second derivatives through the network, and "
            "bf16/fp16 keep 8/11 mantissa bits (~2-3 digits): u_xx and the residual drown in rounding error and "
            "training stalls. Use 32-true (default) or 64 (float64 end to end)"
        )
        if not cfg.get("allow_low_precision", False):
            raise ValueError(msg + "; allow_low_precision=true runs it anyway")
        warnings.warn(msg, stacklevel=2)


@contextmanager
def matmul_precision(value: str) -> Iterator[None]:
    """float32 matmul precision for the run, restored afterwards. ``highest`` (default) leaves PyTorch's full
    float32 alone; ``high`` allows TF32 on GPUs. Uses the same (legacy) API Lightning reads, since mixing it
    with the newer ``fp32_precision`` API raises."""
    if value not in MATMUL_PRECISIONS:
        raise ValueError(f"matmul_precision must be one of {MATMUL_PRECISIONS}, got {value!r}")
    try:
        before = torch.get_float32_matmul_precision()
    except RuntimeError as err:  # the process set the newer fp32_precision API: torch refuses the mix
        raise ValueError(
            "the float32 matmul precision was set with the newer torch.backends.*.fp32_precision API, which torch "
            "refuses to mix with set_float32_matmul_precision (the one Lightning reads); leave it unset and use "
            "matmul_precision=highest|high"
        ) from err
    torch.set_float32_matmul_precision(value)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Fit the run ``cfg`` describes; write ``summary.json`` in ``cfg.paths.output_dir`` and return it. With
    ``march.windows`` > 0, one run per time window (:mod:`pinnkit.marching`) and the whole march's summary.

    ``callbacks`` are extra Lightning callbacks for this run (for programmatic use, e.g. benchmarks).

    ``cfg.ckpt_path`` resumes from a checkpoint (same steps and losses as an uninterrupted run, same W&B run id;
    refused, naming the difference, when it was written for another run: :mod:`pinnkit.resume`). The run
    directory is held for this run alone (:mod:`pinnkit.rundir`). A non-finite loss raises
    :class:`~pinnkit.training.guard.NonFiniteLossError` and SIGTERM/SIGINT
    :class:`~pinnkit.training.stopping.RunInterrupted`,
    both after ``summary.json`` (with ``stopped``) is written.
    """
    check_config(cfg)
    if is_march(cfg):  # time-marching windows: a run per window; the march's summary reads as a run's
        return march(cfg, lambda window: train(window, callbacks))
    check_precision(cfg)
    with matmul_precision(cfg.matmul_precision):
        return _train(cfg, list(callbacks))


def _train(cfg: DictConfig, extra_callbacks: list[L.Callback]) -> dict[str, Any]:
    run_dir = Path(cfg.paths.output_dir)
    ckpt_path = cfg.ckpt_path or requeued_checkpoint(run_dir)  # a requeued SLURM job continues where it stopped
    ckpt_path = str(ckpt_path) if ckpt_path else None
    with claim(run_dir, resuming_here=bool(ckpt_path) and inside(ckpt_path, run_dir), overwrite=cfg.overwrite):
        return _fit(cfg, run_dir, ckpt_path, extra_callbacks)


def _fit(cfg: DictConfig, run_dir: Path, ckpt_path: str | None, extra_callbacks: list[L.Callback]) -> dict[str, Any]:
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = build(cfg)
    if cfg.get("init_weights") and not ckpt_path:  # a fresh run from given weights (a resume has its own)
        start_from(module, cfg.init_weights)
    check_fits(module, str(cfg.trainer.get("accelerator", "cpu")))
    resolved = OmegaConf.to_container(cfg, resolve=True)
    run_id = None
    if ckpt_path:
        ckpt = read_checkpoint(ckpt_path)
        check_resume(ckpt, module, resolved, ckpt_path, cfg.allow_resume_changes)
        run_id = ckpt["pinnkit"].get("wandb_id")
    logger = make_logger(cfg, run_dir, module.pde.name, module.derivative.name, run_id=run_id)
    loggers = [lg for lg in (logger,) if lg is not None]
    if not any(isinstance(lg, CSVLogger) for lg in loggers):  # metrics.csv in every run, for compare_runs.py
        loggers.append(CSVLogger(run_dir, name="csv"))
    ckpt_dir = run_dir / "checkpoints"
    final, signals, checkpoint_io = FinalCheckpoint(ckpt_dir / "last.ckpt"), SignalStop(), SafeCheckpointIO()
    chosen = configured_callbacks(
        cfg.get("callbacks"), objective(module.pde), cfg.trainer.get("enable_progress_bar", True)
    )
    # the final checkpoint after ModelCheckpoint: Lightning keeps checkpoint callbacks in this order, last
    callbacks: list[L.Callback] = [StepsPerBatch(), *chosen, final, signals, *extra_callbacks]
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        **batch_cadence(cfg, module.steps_per_batch),
        logger=loggers,
        callbacks=callbacks,
        plugins=[*(instantiate(p) for p in cfg.trainer.get("plugins") or ()), checkpoint_io],  # on every strategy
        default_root_dir=str(run_dir),
        inference_mode=False,  # residuals in validation need autograd
    )
    module.attach_run(resolved, logger.version if isinstance(logger, WandbLogger) else None)
    meta = run_metadata(trainer.strategy.root_device)
    stopped: tuple[str, str] | None = None  # (kind, message)
    try:
        if logger is not None:
            logger.log_hyperparams({"config": resolved, **meta})
        try:
            with signals.installed():
                trainer.fit(module, ckpt_path=ckpt_path)
            module.guard.check(trainer.global_step, module.parameters())  # since the last cadence check
            module.guard.check_skips(trainer.global_step, trainer.global_step)
        except NonFiniteLossError as err:
            stopped = ("nonfinite", nonfinite_message(err, checkpoint_io.last_kept(ckpt_dir), ckpt_path))
        except SIGTERMException:
            signum = signals.signum or signal.SIGTERM
            stopped = ("signal", f"stopped by {signal.Signals(signum).name} at step {trainer.global_step}")
        time_s, segments = module.segments()
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}  # last logged training metrics
        if stopped is None:
            trainer.validate(module, verbose=False)  # final validation replaces only the val/ keys
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
        in_sync = ranks_in_sync(trainer, module) if trainer.world_size > 1 and stopped is None else None
        summary = {
            **metrics,
            "steps": trainer.global_step,
            "time_s": time_s,  # every segment of a resumed run
            "it_per_s": trainer.global_step / time_s if time_s > 0 else None,
            "segments": segments,
            "pde": module.pde.name,
            "objective": objective(module.pde),
            "derivative": module.derivative.name,
            "stopped": None if stopped is None else stopped[0],
            "stop_message": None if stopped is None else stopped[1],
            "skipped_steps": module.guard.skipped,
            "last_checkpoint": (checkpoint_io.last_kept(ckpt_dir) or (None,))[0],
            "peak_mem_mb": peak_memory_mb(trainer.strategy.root_device),
            "world_size": trainer.world_size,
            "cluster": cluster_metadata(trainer),
            "learned": module.pde.learned() or None,
            "ranks_in_sync": in_sync,
            **meta,
            "config": resolved,
        }
        if trainer.is_global_zero:
            write_json(run_dir / "summary.json", summary)
            if stopped is None or stopped[0] == "signal":
                save_solution(module, run_dir / "solution.npz")
            best = next((c.best_model_path for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), "")
            record_outcome(logger, summary, [run_dir / "solution.npz", *([Path(best)] if best else [])],
                           bool(cfg.get("logger") and cfg.logger.get("artifacts")))  # fmt: skip
            csv_log = next(lg for lg in loggers if isinstance(lg, CSVLogger))
            if (Path(csv_log.log_dir) / "metrics.csv").is_file():
                plot_losses(Path(csv_log.log_dir) / "metrics.csv", run_dir / "plots" / "losses.png", module.pde.name)
            if stopped is None:
                key = summary["objective"]
                print(f"{key}={summary[key]:.1e} steps={summary['steps']} time={time_s:.0f}s")
        if stopped is not None and stopped[0] == "nonfinite":
            raise NonFiniteLossError(stopped[1])
        if stopped is not None:
            raise RunInterrupted(signals.signum or signal.SIGTERM, trainer.global_step, signals.handover)
        return summary
    finally:
        finish(logger)
        if cfg.derivative.get("compile") or cfg.compile_step:
            torch._dynamo.reset()  # a multirun's next job starts without this job's compiled graphs


def nonfinite_message(err: Exception, kept: tuple[str, int] | None, resumed_from: str | None) -> str:
    """The guard's message with the truth about checkpoints: which one is kept, or that none was written."""
    if kept is not None:
        where = f"the last checkpoint, {kept[0]} (step {kept[1]}), was written before it and is kept"
    elif resumed_from:
        where = f"no checkpoint was written in this run; the one it resumed from, {resumed_from}, is untouched"
    else:
        where = "no checkpoint was written before it (the first comes with the first validation)"
    return f"{err}; {where}. Lower the learning rate, clip gradients (optim.grad_clip=1.0) or set nonfinite=skip"


def ranks_in_sync(trainer: L.Trainer, module: PINNModule) -> bool:
    """Whether every rank holds bit-identical parameters (DDP must keep them so)."""
    flat = torch.cat([p.detach().flatten() for p in module.parameters()])
    gathered = trainer.strategy.all_gather(flat)  # (world, P)
    return bool((gathered == gathered[0]).all())


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process: CUDA ``max_memory_allocated``, else the peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float:
    """``python train.py [overrides]``; returns the run's final objective (``val/l2_rel``, or ``val/loss`` for a PDE
    without a reference), which Hydra's sweepers minimize."""
    return run(cfg)


def cli() -> None:
    """The ``pinnkit-train`` command (and ``python -m pinnkit``): :func:`main` with the working directory importable,
    as ``python train.py`` has its own directory, so a project's own classes are found by their module names."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    main()


def run(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> float:
    """What the command line does with a composed config: set the thread count, :func:`train`, and exit with
    ``128 + signal`` (143 for SIGTERM, 130 for SIGINT) when a signal stopped the run."""
    torch.set_num_threads(cfg.threads or torch.get_num_threads())
    try:
        summary = train(cfg, callbacks)
        return summary[summary["objective"]]
    except RunInterrupted as err:  # pre-empted: an honest non-zero exit, after the checkpoint and summary
        print(f"pinnkit: {err}", file=sys.stderr)
        if err.handover is not None:  # e.g. submitit's SIGUSR2 handler: it requeues the job (and exits)
            err.handover(err.signum, None)
        sys.exit(err.exit_code)
