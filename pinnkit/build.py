"""``build(cfg)``: the components a config describes, instantiated and wired into a :class:`PINNModule`.

Groups map onto components: ``pde`` -> :class:`~pinnkit.pdes.PDE`, ``model`` -> the net (sized to the PDE),
``derivative`` -> a backend, ``data`` -> :class:`~pinnkit.points.CollocationPlan`, ``loss_weights``/``causal``
-> :class:`~pinnkit.loss.PINNLoss`, ``optim`` -> :class:`~pinnkit.training.Phases`, ``balance`` ->
:class:`~pinnkit.weighting.GradNormBalance`. Defaults live in ``pinnkit/conf/train.yaml`` alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from .loss import PINNLoss
from .nets.constrained import Constrained
from .observations import Observations, read_observations
from .points import RAD, CollocationPlan
from .training import NonFiniteGuard, Phases, PINNModule
from .training.startup import check_methods
from .weighting import CausalWeighting, GradNormBalance, ResidualAttention

#: the keys of the ``optim`` group (the phases' settings, :class:`~pinnkit.training.Phases`)
OPTIM_KEYS = ("optimizer", "scheduler", "grad_clip", "second", "second_from", "resample_every", "keep_curvature")


def check_keys(name: str, given: Mapping[str, Any] | None, valid: Iterable[str]) -> None:
    """Unknown keys in the config node ``name`` are an error naming the valid ones."""
    unknown = set(given or {}) - set(valid)
    if unknown:
        raise ValueError(f"{name} has unknown keys {sorted(unknown)}; valid: {sorted(valid)}")


def options(name: str, given: Mapping[str, Any] | None, cls: type) -> Any:
    """``cls(**given)`` for a dataclass of options (:func:`check_keys` first); numbers as the field's type."""
    types = {f.name: str(getattr(f.type, "__name__", f.type)) for f in fields(cls)}
    check_keys(name, given, types)
    convert = {"int": lambda v: int(float(v)), "float": float, "str": str}
    return cls(**{k: convert[types[k]](v) for k, v in (given or {}).items()})


def build(cfg: DictConfig, read_data: bool = True) -> PINNModule:
    """The LightningModule a config describes, in float64 when ``trainer.precision`` is 64. ``read_data=False``
    (rebuilding a trained run to evaluate it) keeps the ``observed`` term's place without reading the file."""
    pde = instantiate(cfg.pde)
    if cfg.data.get("observations") and read_data:  # measured data: checked in full before anything trains
        obs = read_observations(cfg.data.observations, pde.axes, pde.fields, pde.domain)
        pde.observe(*obs.split(float(cfg.data.get("observations_holdout") or 0.0), int(cfg.seed)))
    elif cfg.data.get("observations"):
        pde.observe(Observations.none(pde.axes, pde.fields))
    backend = instantiate(cfg.derivative)
    dims = {"in_dim": len(pde.axes), "out_dim": len(pde.fields)}
    box = {"lower": list(pde.domain.lower), "upper": list(pde.domain.upper), "axes": list(pde.axes)}
    net = instantiate(cfg.model, **dims, **box)
    if pde.hard:  # initial/boundary conditions by construction: u = b + φ N
        net = Constrained(net, pde.ansatz)
    optim, data = cfg.optim, cfg.data
    check_keys("optim", optim, OPTIM_KEYS)
    second = {k: optim[k] for k in ("resample_every", "keep_curvature") if k in optim}
    phases = Phases(
        instantiate(optim.optimizer),
        scheduler=instantiate(optim.scheduler) if optim.get("scheduler") else None,
        second=instantiate(optim.second) if optim.get("second") else None,
        second_from=optim.get("second_from"),
        grad_clip=optim.get("grad_clip"),
        **second,
    )
    attention = options("attention", cfg.get("attention"), ResidualAttention)
    if attention.active and data.resample_every == 1:
        raise ValueError(
            "attention.eta > 0 weighs each point of a point set by its residual history, so the points must stay for "
            "many steps: set data.resample_every to K > 1 (e.g. 500), or attention.eta=0"
        )
    causal = options("causal", cfg.get("causal"), CausalWeighting)
    loss = PINNLoss(pde, backend, cfg.get("loss_weights"), causal, attention)
    check_methods(phases, loss, world_size=1)  # before anything trains; the world size is checked at train start
    plan = CollocationPlan(
        pde,
        data.points,
        resample_every=data.resample_every,
        seed=cfg.seed,
        sampler=data.sampler,
        rad=options("data.adaptive", data.get("adaptive"), RAD),
        residual_everywhere=bool(data.residual_everywhere),
        fuse=bool(cfg.fuse_terms),
        second_from=phases.second_from,
        second_every=phases.resample_every,
    )
    balance = dict(cfg.get("balance") or {})
    check_keys("balance", balance, ("every", "alpha"))
    module = PINNModule(
        net,
        loss,
        plan,
        phases,
        NonFiniteGuard(cfg.nonfinite, [t.name for t in loss.terms], cfg.nonfinite_skip_limit),
        balance=GradNormBalance(**balance) if balance.get("every") else None,
        val_points=data.val_points,
        checks=cfg.checks,
        steps_per_batch=int(cfg.steps_per_batch),
        compile_step=bool(cfg.compile_step),
    )
    if str(cfg.trainer.get("precision", "")).startswith("64"):
        module.double()  # float64 from the start, so a checkpoint restored into it is not rounded to float32
    return module
