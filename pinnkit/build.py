"""``build(cfg)``: the components a config describes, instantiated and wired into a :class:`PINNModule`.

Groups map onto components: ``pde`` -> :class:`~pinnkit.pdes.PDE`, ``model`` -> the net (sized to the PDE),
``derivative`` -> a backend, ``data`` -> :class:`~pinnkit.points.CollocationPlan`, ``loss_weights``/``causal``
-> :class:`~pinnkit.loss.PINNLoss`, ``optim`` -> :class:`~pinnkit.training.Phases`, ``balance`` ->
:class:`~pinnkit.weighting.GradNormBalance`. Defaults live in ``conf/train.yaml`` alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from .loss import PINNLoss
from .nets.constrained import Constrained
from .points import RAD, CollocationPlan
from .training import NonFiniteGuard, Phases, PINNModule
from .weighting import CausalWeighting, GradNormBalance


def check_keys(name: str, given: Mapping[str, Any] | None, valid: Iterable[str]) -> None:
    """Unknown keys in the config node ``name`` are an error naming the valid ones."""
    unknown = set(given or {}) - set(valid)
    if unknown:
        raise ValueError(f"{name} has unknown keys {sorted(unknown)}; valid: {sorted(valid)}")


def options(name: str, given: Mapping[str, Any] | None, cls: type) -> Any:
    """``cls(**given)`` for a dataclass of options (:func:`check_keys` first)."""
    check_keys(name, given, cls.__dataclass_fields__)
    types = {k: f.type for k, f in cls.__dataclass_fields__.items()}
    return cls(**{k: (int(float(v)) if types[k] in ("int", int) else float(v)) for k, v in (given or {}).items()})


def build(cfg: DictConfig) -> PINNModule:
    """The LightningModule a config describes, in float64 when ``trainer.precision`` is 64."""
    pde = instantiate(cfg.pde)
    backend = instantiate(cfg.derivative)
    dims = {"in_dim": len(pde.axes), "out_dim": len(pde.fields)}
    box = {"lower": list(pde.domain.lower), "upper": list(pde.domain.upper), "axes": list(pde.axes)}
    net = instantiate(cfg.model, **dims, **box)
    if pde.hard:  # initial/boundary conditions by construction: u = b + φ N
        net = Constrained(net, pde.ansatz)
    optim, data = cfg.optim, cfg.data
    phases = Phases(
        instantiate(optim.optimizer),
        scheduler=instantiate(optim.scheduler) if optim.get("scheduler") else None,
        closure_optimizer=instantiate(optim.lbfgs) if optim.get("lbfgs") else None,
        switch_at=optim.get("lbfgs_from"),
        grad_clip=optim.get("grad_clip"),
    )
    loss = PINNLoss(pde, backend, cfg.get("loss_weights"), options("causal", cfg.get("causal"), CausalWeighting))
    plan = CollocationPlan(
        pde,
        data.points,
        resample_every=data.resample_every,
        seed=cfg.seed,
        sampler=data.sampler,
        rad=options("data.adaptive", data.get("adaptive"), RAD),
        residual_everywhere=bool(data.residual_everywhere),
        fuse=bool(cfg.fuse_terms),
        freeze_from=phases.switch_at,
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
