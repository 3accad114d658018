"""Training to accuracy with the shipped default configs (slow: minutes each on 2 CPU cores; `make test-slow`)."""

from __future__ import annotations

import pytest

from pinnkit.train import train
from tests.conftest import compose_cfg

pytestmark = pytest.mark.slow
QUIET = ["trainer.enable_progress_bar=false"]


@pytest.mark.parametrize("pde", ["heat", "poisson"])
def test_default_config_reaches_1e_4(tmp_path, pde):
    """`python train.py pde=<pde>`: hard constraints, Adam 3000 steps then L-BFGS 1000 (6.4e-5 and 1.1e-5 measured)."""
    summary = train(compose_cfg(tmp_path, f"pde={pde}", *QUIET))
    assert summary["val/l2_rel"] <= 1e-4, summary["val/l2_rel"]


def test_inverse_burgers_recovers_nu_within_one_percent(tmp_path):
    """`python train.py experiment=burgers_inverse`: ν from 2000 observations, started at 0.05 (16x too large),
    Adam 5000 steps, then L-BFGS (0.75% measured)."""
    summary = train(compose_cfg(tmp_path, "experiment=burgers_inverse", *QUIET))
    nu, true = summary["learned"]["nu"], summary["learned"]["nu_true"]
    assert abs(nu / true - 1) < 0.01, (nu, true)
