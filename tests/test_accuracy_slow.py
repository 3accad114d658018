"""Training to accuracy with the shipped default configs and recipes (slow: minutes to an hour each on 2 CPU cores;
`make test-slow`)."""

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


# the accuracy bars of the recipes, each within the recipe's own trainer.max_time (one seed here; the accuracy
# table in docs/benchmarks.md gives the median of three where the bar asks for it); the last six: 10x below what
# the zoo reached before the quasi-Newton recipes (KdV 2e-1, wave 1.7e-1, Klein-Gordon 8.1e-3, Kovasznay 5.0e-4,
# advection 2.5e-3, Schrödinger 1.3e-2); vector3d, with no earlier figure, is held at 1e-5
# (5.7e-7 measured); poisson_hole (CSG geometry, a Neumann flux on the hole) at 1e-3 (1.6e-8 measured)
BARS = {"burgers": 1e-5, "helmholtz": 1e-5, "poisson": 1e-6, "heat": 1e-6, "allen_cahn": 1e-4,
        "kdv": 2e-2, "wave": 1.7e-2, "klein_gordon": 8.1e-4, "kovasznay": 5e-5, "advection": 2.5e-4,
        "schrodinger": 1.3e-3, "vector3d": 1e-5, "poisson_hole": 1e-3}  # fmt: skip


@pytest.mark.parametrize(("recipe", "bound"), sorted(BARS.items()))
def test_recipe_reaches_its_bar_within_its_time_cap(tmp_path, recipe, bound):
    """`python train.py experiment=<recipe>`: its rel L2 bar within its time cap (trainer.max_time: 10 minutes for
    Poisson, heat, Helmholtz, wave, Klein-Gordon, advection, Kovasznay and vector3d, 15 for KdV and Schrödinger, 20 for
    Burgers and Allen-Cahn)."""
    summary = train(compose_cfg(tmp_path, f"experiment={recipe}", *QUIET))
    assert summary["val/l2_rel"] <= bound, summary["val/l2_rel"]


def test_the_cavity_matches_ghias_centrelines(tmp_path):
    """`python train.py experiment=cavity`: the lid-driven cavity at Re = 100, no closed form; u on x = 0.5 and v on
    y = 0.5 within rel L2 2e-2 of Ghia, Ghia & Shin's tables (0.71% and 1.75% measured; ~30 min alone)."""
    summary = train(compose_cfg(tmp_path, "experiment=cavity", *QUIET))
    assert summary["val/ghia_u_rel"] <= 2e-2 and summary["val/ghia_v_rel"] <= 2e-2, summary
