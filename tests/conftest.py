"""Shared fixtures: analytic test functions with closed-form derivatives, small MLPs, config composition."""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from pinnkit.derivatives import BACKENDS, get_backend
from pinnkit.train import CONF_DIR

if os.environ.get("PYTEST_XDIST_WORKER"):  # one torch thread per worker: `-n 2` on 2 cores, no oversubscription
    torch.set_num_threads(1)

ALL_BACKENDS = sorted(BACKENDS)
CALLABLE_BACKENDS = sorted(n for n, cls in BACKENDS.items() if cls.any_callable)  # take plain functions


@pytest.fixture(params=ALL_BACKENDS)
def backend(request):
    return get_backend(request.param)


@pytest.fixture(params=CALLABLE_BACKENDS)
def callable_backend(request):
    """Backends that differentiate any pointwise callable (closed-form solutions are plain functions)."""
    return get_backend(request.param)


def make_mlp(d: int, m: int, width: int = 16, depth: int = 2, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    sizes = [d, *[width] * depth]
    for a, b in pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], m)).double()


def nan_loss_on(monkeypatch: pytest.MonkeyPatch, bad: Callable[[int], bool], term: str = "pde") -> None:
    """Make ``term``'s loss NaN on the training steps where ``bad(step)`` holds."""
    from pinnkit.training import PINNModule

    real = PINNModule.losses

    def patched(self, batch):
        total, losses = real(self, batch)
        if not bad(self.global_step):
            return total, losses
        return total * float("nan"), {**losses, term: losses[term] * float("nan")}

    monkeypatch.setattr(PINNModule, "losses", patched)


def predict_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """``python -m pinnkit.predict ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    from pinnkit.predict import main

    try:
        main(list(args))
        code = 0
    except SystemExit as err:
        code = err.code
    out = capsys.readouterr()
    return code, out.out, out.err


#: the largest validation grids, shrunk: in a few-step test the grid's reference and plots would cost most of it
SMALL_GRIDS = {"allen_cahn": ["pde.nt=21", "pde.nx=64"], "kdv": ["pde.nt=21", "pde.nx=64"],
               "schrodinger": ["pde.nt=21", "pde.nx=64"], "burgers": ["pde.nt=21", "pde.nx=64"],
               "kuramoto_sivashinsky": ["pde.nt=21", "pde.nx=64"]}  # fmt: skip


def compose_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    """The training config for ``overrides`` (CSV logger, output in ``tmp_path``), composed without a run."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=["logger=csv", f"paths.output_dir={tmp_path}", *overrides])
