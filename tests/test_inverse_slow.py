"""Inverse problems from measured data in files: 2000 observations with 1% Gaussian noise in a CSV, the PDE's
coefficient learned from them (slow: minutes on 2 CPU cores)."""

from __future__ import annotations

import pytest
import torch

from pinnkit.pdes import Burgers, Heat
from pinnkit.train import train
from tests.conftest import compose_cfg

pytestmark = pytest.mark.slow


def _noisy_csv(pde, path, n: int = 2000, noise: float = 0.01) -> None:
    x = pde.domain.sample("interior", n, torch.Generator().manual_seed(0), torch.float64)
    u = pde.exact(x)[:, 0]
    u = u + noise * u.abs().mean() * torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=u.dtype)
    rows = "\n".join(",".join(f"{float(v):.17g}" for v in (*p, w)) for p, w in zip(x, u, strict=True))
    path.write_text(",".join((*pde.axes, "u")) + "\n" + rows + "\n")


def test_heat_kappa_within_one_percent_from_a_noisy_csv(tmp_path):
    _noisy_csv(Heat(), tmp_path / "heat.csv")
    summary = train(compose_cfg(tmp_path / "run", "pde=heat", "+pde.learn={kappa: 0.5}",
                                f"data.observations={tmp_path / 'heat.csv'}", "trainer.precision=64",
                                "trainer.enable_progress_bar=false"))  # fmt: skip
    kappa, true = summary["learned"]["kappa"], summary["learned"]["kappa_true"]
    assert abs(kappa / true - 1) < 0.01, (kappa, true)


def test_burgers_nu_within_two_percent_from_a_noisy_csv(tmp_path):
    _noisy_csv(Burgers(), tmp_path / "burgers.csv")
    summary = train(compose_cfg(tmp_path / "run", "pde=burgers", "+pde.learn={nu: 0.05}",
                                f"data.observations={tmp_path / 'burgers.csv'}", "trainer.precision=64",
                                "trainer.max_steps=8000", "optim.second_from=5000",
                                "trainer.enable_progress_bar=false"))  # fmt: skip
    nu, true = summary["learned"]["nu"], summary["learned"]["nu_true"]
    assert abs(nu / true - 1) < 0.02, (nu, true)
