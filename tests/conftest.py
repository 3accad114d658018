"""Shared fixtures: analytic test functions with closed-form derivatives, small MLPs, config composition."""

from __future__ import annotations

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


def compose_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    """The training config for ``overrides`` (CSV logger, output in ``tmp_path``), composed without a run."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=["logger=csv", f"paths.output_dir={tmp_path}", *overrides])
