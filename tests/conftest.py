"""Shared fixtures: analytic test functions with closed-form derivatives, small MLPs, config composition."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from pinnkit.derivatives import BACKENDS, get_backend
from pinnkit.train import CONF_DIR

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
    from pinnkit.module import PINNModule

    real = PINNModule._term_loss

    def patched(self, t, x, causal, d):
        loss, weights = real(self, t, x, causal, d)
        return (loss * float("nan") if t.name == term and bad(self.global_step) else loss), weights

    monkeypatch.setattr(PINNModule, "_term_loss", patched)


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


def compose_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    """The training config for ``overrides`` (CSV logger, output in ``tmp_path``), composed without a run."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=["logger=csv", f"paths.output_dir={tmp_path}", *overrides])
