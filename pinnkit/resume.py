"""What a checkpoint was written for, and whether a run may resume from it.

A checkpoint's ``pinnkit.identity`` records the run it belongs to: the PDE's name, fields and axes, its
parameters, the model and the optimizer phases. A resume is refused, naming what differs, when

- the PDE, its fields or axes, the model settings or the network's tensors differ (the weights mean nothing
  for the new run), always;
- the PDE's parameters or the optimizer phases differ, or ``trainer.max_steps`` is at or below the
  checkpoint's step (nothing would train), unless ``allow_resume_changes=true`` says the change is deliberate.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from .checkpoints import FORMAT, CheckpointError, read_checkpoint


def run_identity(config: Mapping[str, Any] | None, pde: Any) -> dict[str, Any]:
    """The identity a checkpoint of this run records (plain types): from the resolved config and the PDE."""
    cfg = config or {}
    return {
        "pde": pde.name,
        "fields": list(pde.fields),
        "axes": list(pde.axes),
        "pde_params": cfg.get("pde"),
        "model": cfg.get("model"),
        "optim": cfg.get("optim"),
    }


def run_record(
    config: Mapping[str, Any] | None, pde: Any, wandb_id: str | None, time_s: float, segments: list, skipped: int
) -> dict[str, Any]:
    """The ``pinnkit`` section of a checkpoint, in plain types: the resolved config, the run's identity, the W&B
    run id, training time and segments, skipped steps (the checkpoint I/O adds the content hash)."""
    return {
        "format": FORMAT,
        "config": config,
        "identity": run_identity(config, pde),
        "wandb_id": wandb_id,
        "time_s": time_s,
        "segments": segments,
        "skipped_steps": skipped,
    }


def differences(old: Any, new: Any, prefix: str, labels: tuple[str, str] = ("checkpoint", "this run")) -> list[str]:
    """``key: old (label) -> new (label)`` for every leaf where two nested configs differ (``prefix`` "" for keys
    from the top)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            key = f"{prefix}.{k}" if prefix else str(k)
            out += differences(old.get(k, "<unset>"), new.get(k, "<unset>"), key, labels)
        return out
    return [] if old == new else [f"{prefix}: {old!r} ({labels[0]}) -> {new!r} ({labels[1]})"]


def check_resume(
    ckpt: Mapping[str, Any], module: nn.Module, config: Mapping[str, Any], path: str | Path, allow_changes: bool
) -> None:
    """Raise :class:`CheckpointError` unless ``ckpt`` may resume the run ``config`` describes (see module doc)."""
    path = str(path)
    got = ckpt["pinnkit"].get("identity") or {}
    have = run_identity(config, module.pde)
    if got.get("pde") != have["pde"]:
        raise CheckpointError(
            f"checkpoint {path!r} was written by a run of pde={got.get('pde')}, this run is pde={have['pde']}: its "
            f"weights solve another problem. Resume with pde={got.get('pde')}, or start without ckpt_path"
        )
    for key in ("fields", "axes"):
        if got.get(key) != have[key]:
            raise CheckpointError(
                f"checkpoint {path!r} has {key} {got.get(key)} for pde={have['pde']}, this run has {have[key]}"
            )
    model = differences(got.get("model"), have["model"], "model") if got.get("model") is not None else []
    if model:
        raise CheckpointError(
            f"checkpoint {path!r} does not fit this run's network: {'; '.join(model[:4])}. Resume with the model "
            "settings it was written with"
        )
    check_weights_fit(ckpt, module, path)
    changes = differences(got.get("pde_params"), have["pde_params"], "pde") if got.get("pde_params") else []
    if got.get("optim") is not None:
        changes += differences(got["optim"], have["optim"], "optim")
    step, max_steps = int(ckpt.get("global_step", 0)), int(config.get("trainer", {}).get("max_steps", -1))
    if 0 <= max_steps <= step:
        changes.append(f"trainer.max_steps={max_steps} is at or below the checkpoint's step {step}: nothing to train")
    if not changes:
        return
    text = "; ".join(changes[:6]) + (f" (and {len(changes) - 6} more)" if len(changes) > 6 else "")
    if not allow_changes:
        raise CheckpointError(
            f"resuming from {path!r} would change the run: {text}. Resume with the checkpoint's settings, or set "
            "allow_resume_changes=true if the change is deliberate"
        )
    warnings.warn(f"resuming from {path!r} with deliberate changes (allow_resume_changes=true): {text}", stacklevel=2)


def check_weights_fit(ckpt: Mapping[str, Any], module: nn.Module, path: str | Path) -> None:
    """Raise :class:`CheckpointError` unless the checkpoint's tensors have ``module``'s names and shapes."""
    have = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in ckpt["state_dict"].items()}
    diffs = sorted(set(have) ^ set(got)) + sorted(k for k in set(have) & set(got) if have[k] != got[k])
    if diffs:
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not fit this run's network ({len(diffs)} mismatched tensors, e.g. "
            f"{diffs[:3]}). Resume with the model settings it was written with"
        )


def start_from(module: nn.Module, path: str | Path) -> None:
    """Start a fresh run from the weights of the checkpoint at ``path`` (``init_weights``): its tensors must have
    ``module``'s names and shapes; its optimizer state, step and schedule are not taken (a resume is
    ``ckpt_path``)."""
    ckpt = read_checkpoint(path)
    check_weights_fit(ckpt, module, path)
    module.load_state_dict(ckpt["state_dict"])
