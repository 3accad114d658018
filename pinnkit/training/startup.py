"""Checks before training: the net's shapes, pointwise-ness, a graph from every term's loss to the parameters,
and each backend's chance to tune itself on the real net and points (``auto`` times its candidates)."""

from __future__ import annotations

import torch
from torch import nn

from ..derivatives.checks import check_pointwise, check_reaches_params
from ..derivatives.estimates import exact_needs
from ..derivatives.names import is_derivative_name
from ..loss import PINNLoss
from ..optim import ENGD
from ..pdes import PDE
from ..points import Batch
from .phases import Phases


def check_shapes(net: nn.Module, pde: PDE, dtype: torch.dtype, device: torch.device) -> None:
    """The net must map ``(N, d)`` points of the PDE to ``(N, m)`` fields; say so clearly if not."""
    d, m = len(pde.axes), len(pde.fields)
    x = pde.domain.sample("interior", 2, torch.Generator(device=device).manual_seed(0), dtype, device)
    try:
        with torch.no_grad():
            y = net(x)
    except RuntimeError as err:
        raise ValueError(
            f"the network does not take points of {pde.name} (shape (N, {d}) over axes {pde.axes}): {err}"
        ) from err
    if y.shape != (2, m):
        raise ValueError(
            f"the network maps (N, {d}) points to {tuple(y.shape[1:])} per point; {pde.name} needs {m} "
            f"output fields {pde.fields}"
        )


def prepare_backend(loss: PINNLoss, net: nn.Module, batch: Batch) -> None:
    """Let the backend tune itself on the calls the steps will make (the one fused call, or one per term)."""
    pde = loss.pde
    calls = [(t.needs, batch.points[t.name]) for t in loss.terms]
    if batch.flat is not None:
        calls = [(loss.fused_needs, batch.flat)]
    for needs, x in calls:  # (estimated needs: the backend is chosen on their exact form)
        if any(is_derivative_name(n) for n in needs):
            loss.derivative.prepare(net, x, exact_needs(needs), axes=pde.axes, fields=pde.fields)


def check_graph(loss: PINNLoss, net: nn.Module, seed: int, dtype: torch.dtype, device: torch.device) -> None:
    """The net is pointwise, and every derivative-based term's loss reaches the parameters."""
    pde = loss.pde
    gen = torch.Generator(device=device).manual_seed(seed)
    x = pde.domain.sample("interior", 8, gen, dtype, device)
    check_pointwise(net, x)
    for t in loss.terms:
        if any(is_derivative_name(n) for n in t.needs):
            pts = pde.domain.sample(t.region, 8, gen, dtype, device)
            check_reaches_params(
                loss.derivative,
                net,
                pts,
                net.parameters(),
                exact_needs(t.needs),
                t.residual,
                axes=pde.axes,
                fields=pde.fields,
            )


def check_methods(phases: Phases, loss: PINNLoss, world_size: int) -> None:
    """Refuse an optimizer phase or loss weighting that cannot run here, naming the fix: ENGD needs a backend
    that runs under ``torch.func`` (per-point Jacobians), plain mean-square terms and one process; residual-based
    attention keeps its multipliers in one process."""
    if loss.attention.active and world_size > 1:
        raise ValueError(
            f"attention.eta > 0 keeps per-point multipliers in this process, not gathered over the {world_size} DDP "
            "ranks: train with trainer.devices=1, or attention.eta=0 (RAD sampling, data.adaptive, works under DDP)"
        )
    built = getattr(phases.second, "func", phases.second)  # the class a partial factory builds
    if not (isinstance(built, type) and issubclass(built, ENGD)):
        return
    backend = loss.derivative
    if backend.uses_autograd:
        raise ValueError(
            f"optim.second=ENGD builds per-point Jacobians under torch.func, which derivative={backend.name} cannot "
            "run under (it calls torch.autograd). Use derivative=taylor"
        )
    if loss.causal.chunks:
        raise ValueError("optim.second=ENGD takes plain mean-square terms: set causal.chunks=0 for this run")
    if world_size > 1:
        raise ValueError(
            f"optim.second=ENGD runs in one process: its Gauss-Newton system needs every point's Jacobian row, which "
            f"DDP splits over the {world_size} ranks. Train with trainer.devices=1, or a quasi-Newton second phase"
        )
