"""Checks of a composed config before anything runs: types and ranges of pinnkit's keys, and sizes that fit.

- :func:`check_config` checks pinnkit's own top-level, ``data``, ``balance``, ``causal`` and ``trainer`` cadence
  keys (:data:`SCHEMA`), and the settings of every config node whose ``_target_`` is a pinnkit class against that
  class's typed ``__init__`` (``model.width=abc`` names ``model.width`` and ``MLP``'s ``width: int``). A user's
  own ``_target_`` keeps its keys free. It raises :class:`ConfigError` naming the key and the valid values.
- :func:`check_fits` estimates, from the built module, a lower bound of the memory one training step and the
  validation grid need, and fails at once when it exceeds what this process may use (the cgroup limit, where
  there is one, or the available RAM) instead of minutes later in the allocator.
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from .training.guard import MODES as NONFINITE_MODES
from .weighting import ResidualAttention


class ConfigError(ValueError):
    """A config value has the wrong type or is out of range."""


INT, FLOAT, BOOL, STR = "an int", "a number", "true or false", "a string"
#: key -> (kind, lowest allowed value or None, may be null)
SCHEMA: dict[str, tuple[str, float | None, bool]] = {
    "seed": (INT, 0, False),
    "ckpt_path": (STR, None, True),
    "init_weights": (STR, None, True),
    "march.windows": (INT, 0, False),
    "march.warm_start": (BOOL, None, False),
    "nonfinite_skip_limit": (FLOAT, 0, False),
    "allow_low_precision": (BOOL, None, False),
    "allow_resume_changes": (BOOL, None, False),
    "overwrite": (BOOL, None, False),
    "checks": (BOOL, None, False),
    "threads": (INT, 1, True),
    "fuse_terms": (BOOL, None, False),
    "compile_step": (BOOL, None, False),
    "steps_per_batch": (INT, 1, False),
    "progress_refresh": (INT, 1, False),
    "data.sampler": (STR, None, False),
    "data.resample_every": (INT, 0, False),
    "data.residual_everywhere": (BOOL, None, False),
    "data.adaptive.pool": (INT, 0, False),
    "data.adaptive.k": (FLOAT, 0, False),
    "data.adaptive.c": (FLOAT, 0, False),
    "data.val_points": (INT, 1, False),
    "data.observations": (STR, None, True),
    "data.observations_holdout": (FLOAT, 0, False),
    "balance.every": (INT, 0, False),
    "balance.alpha": (FLOAT, 0, False),
    "attention.eta": (FLOAT, 0, False),
    "attention.gamma": (FLOAT, 0, False),
    "attention.potential": (STR, None, False),
    "attention.c": (FLOAT, 0, False),
    "causal.chunks": (INT, 0, False),
    "causal.eps": (FLOAT, 0, False),
    "optim.second_from": (INT, 0, True),
    "optim.resample_every": (INT, 0, False),
    "optim.keep_curvature": (BOOL, None, False),
    "trainer.max_steps": (INT, 1, False),
    "trainer.val_check_interval": (INT, 1, False),
    "trainer.log_every_n_steps": (INT, 0, False),
}
MATMUL_PRECISIONS = ("highest", "high", "medium")  # torch.set_float32_matmul_precision's values
CHOICES = {"nonfinite": NONFINITE_MODES, "matmul_precision": MATMUL_PRECISIONS,
           "attention.potential": ResidualAttention.POTENTIALS}  # fmt: skip
UPPER = {"seed": 2**32 - 1, "nonfinite_skip_limit": 1.0, "balance.alpha": 1.0, "attention.gamma": 1.0}
PACKAGES = ("pinnkit.",)  # targets whose settings are checked against their signature


def _kind_ok(kind: str, v: Any) -> bool:
    if kind == INT:
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == FLOAT:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, bool) if kind == BOOL else isinstance(v, str)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _fail(key: str, v: Any, want: str) -> None:
    raise ConfigError(f"{key}={v!r} ({type(v).__name__}): {key} must be {want}")


def check_value(key: str, v: Any, kind: str, low: float | None = None, nullable: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``v`` is of ``kind`` (and >= ``low``, <= ``UPPER[key]``)."""
    if v is None and nullable:
        return
    high = UPPER.get(key)
    bounds = "" if low is None else f" >= {_num(low)}" + ("" if high is None else f" and <= {_num(high)}")
    want = kind + bounds + (" (or null)" if nullable else "")
    if not _kind_ok(kind, v) or (low is not None and v < low) or (high is not None and v > high):
        _fail(key, v, want)


def check_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first pinnkit setting of the wrong type or out of range."""
    for key, (kind, low, nullable) in SCHEMA.items():
        v = OmegaConf.select(cfg, key, default="<absent>")
        if v != "<absent>":
            check_value(key, v, kind, low, nullable)
    for key, valid in CHOICES.items():
        v = OmegaConf.select(cfg, key, default=valid[0])
        if v not in valid:
            raise ConfigError(f"{key}={v!r} is not a valid choice; valid: {', '.join(valid)}")
    for region, n in (cfg.data.get("points") or {}).items():
        check_value(f"data.points.{region}", n, INT, 0)
    for term, w in (cfg.get("loss_weights") or {}).items():
        check_value(f"loss_weights.{term}", w, FLOAT, 0)
    for name, spec in (cfg.get("callbacks") or {}).items():
        if spec is not None and not (isinstance(spec, DictConfig) and isinstance(spec.get("_target_"), str)):
            raise ConfigError(
                f"callbacks.{name} must be a mapping with a _target_ (a Lightning callback class) or null, got "
                f"{spec!r}; the shipped sets: callbacks=default | early_stopping | none"
            )
    for group in ("pde", "model", "derivative", "optim.second"):
        node = OmegaConf.select(cfg, group)
        if isinstance(node, DictConfig):
            check_target_settings(group, node)


def check_target_settings(path: str, node: DictConfig) -> None:
    """The keys of a pinnkit ``_target_`` node against the class's typed ``__init__`` (a user's class: free)."""
    target = node.get("_target_")
    if not isinstance(target, str) or not target.startswith(PACKAGES):
        return
    try:
        cls = get_class(target)
    except Exception as err:
        raise ConfigError(f"{path}._target_={target!r} cannot be imported: {err}") from None
    hints, free = signature_hints(cls)
    for key in node:
        if key in ("_target_", "_partial_", "_recursive_", "_convert_", "_args_"):
            continue
        if key not in hints:
            if free:
                continue
            raise ConfigError(f"{path}.{key} is not a setting of {target}; valid: {', '.join(sorted(hints))}")
        check_hinted(f"{path}.{key}", node[key], hints[key], target)


def signature_hints(cls: type) -> tuple[dict[str, Any], bool]:
    """``(name -> annotation, takes **kwargs beyond them)`` of ``cls.__init__``, following ``**kwargs`` up the MRO."""
    hints: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        try:
            types = typing.get_type_hints(init)
        except Exception:  # an annotation that does not resolve: check names only
            types = {}
        for name, p in params.items():
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                hints.setdefault(name, types.get(name, Any))
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return hints, False
    return hints, True


def check_hinted(key: str, v: Any, hint: Any, target: str) -> None:
    """``v`` against an annotation: int, float, bool, str, ``X | None``, mappings and sequences (else free)."""
    args = typing.get_args(hint)
    if type(None) in args:  # X | None
        if v is None:
            return
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else Any
    origin = typing.get_origin(hint)
    kinds = {int: INT, float: FLOAT, bool: BOOL, str: STR}
    if hint in kinds and not _kind_ok(kinds[hint], v):
        _fail(key, v, f"{kinds[hint]} ({target} takes {key.split('.')[-1]}: {hint.__name__})")
    if origin in (dict, Mapping, typing.Mapping) and not isinstance(v, Mapping):
        _fail(key, v, f"a mapping, e.g. {{x: 2.0}} ({target})")
    if origin in (list, tuple, Sequence, typing.Sequence) and not (isinstance(v, Sequence) and not isinstance(v, str)):
        _fail(key, v, f"a list, e.g. [a, b] ({target})")


# ---- memory -------------------------------------------------------------------------------------------------
def memory_limit() -> tuple[int, str]:
    """Bytes this process may use, and where the figure comes from: the cgroup limit (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``) where there is one, else the available RAM (``MemAvailable``)."""
    found: list[tuple[int, str]] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append((int(line.split()[1]) * 1024, "available RAM"))
    except OSError:
        pass
    try:
        rel = next(ln.split(":", 2)[2] for ln in Path("/proc/self/cgroup").read_text().splitlines()
                   if ln.startswith("0::"))  # fmt: skip
        raw = Path("/sys/fs/cgroup", rel.lstrip("/"), "memory.max").read_text().strip()
        if raw != "max":
            found.append((int(raw), "the cgroup limit memory.max"))
    except (OSError, StopIteration, ValueError):
        pass
    try:
        v1 = int(Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").read_text())
        if v1 < 2**60:
            found.append((v1, "the cgroup limit memory.limit_in_bytes"))
    except (OSError, ValueError):
        pass
    return min(found) if found else (2**63, "no known limit")


def _gb(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def device_limit(accelerator: str) -> tuple[int, str] | None:
    """The memory of the GPU a run on ``accelerator`` steps on (``None``: it steps in host memory)."""
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.cuda.mem_get_info()[1], "the GPU's memory"
    return None


def check_fits(module: Any, accelerator: str = "cpu", limit: tuple[int, str] | None = None) -> None:
    """Raise :class:`ConfigError` when a lower bound of one step's memory exceeds what the device it runs on
    has (a GPU's memory, else ``limit``, default :func:`memory_limit`), or the validation grid's (built in host
    memory) exceeds ``limit``."""
    host = limit or memory_limit()
    nbytes, where = device_limit(accelerator) or host
    item = torch.empty((), dtype=module.dtype).element_size()
    d, m = len(module.pde.axes), len(module.pde.fields)
    units = sum(p.numel() for p in module.net.parameters() if p.dim() == 1) or 1  # hidden units (one bias each)
    channels = 1 + max(len(t.needs) for t in module.terms)  # the value and at least one channel per need
    pool, points = max(module.plan.rad.pool, 1), module.plan.size()
    step = points * (d + units * channels) * item
    if step > nbytes:
        raise ConfigError(
            f"data.points ({points:,} points per step{f', adaptive pool {pool}x' if pool > 1 else ''}) need at least "
            f"{_gb(step)} for one step's activations ({units} hidden units, {channels} channels, {item}-byte "
            f"floats), more than the {_gb(nbytes)} this process may use ({where}). Lower data.points.*"
        )
    grid = math.prod(module.pde.grid_sizes.values())
    need, (nbytes, where) = grid * (d + m) * 8, host
    if need > nbytes:
        sizes = ", ".join(f"{a}: {n:,}" for a, n in module.pde.grid_sizes.items())
        raise ConfigError(
            f"the validation grid of {module.pde.name} ({sizes}: {grid:,} points) needs at least {_gb(need)}, more "
            f"than the {_gb(nbytes)} this process may use ({where}). Lower the pde's grid sizes"
        )
