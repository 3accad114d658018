"""Measured data from files: the ``observed`` term trains with any subset of fields, a held-out split gives
``val/data_rel``, and every bad file is refused before training with the file, row and column named."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pinnkit.observations import ObservationError, read_observations
from pinnkit.pdes import Heat, Kovasznay
from pinnkit.predict import load
from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_train import SHORT


def _heat_csv(path, n: int = 200, noise: float = 0.0):
    pde = Heat()
    x = pde.domain.sample("interior", n, torch.Generator().manual_seed(0), torch.float64)
    u = pde.exact(x)[:, 0] * (1 + noise * torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=x.dtype))
    rows = "\n".join(f"{float(b)},{float(a)},{float(c)}" for (a, b), c in zip(x, u, strict=True))
    path.write_text(f"{pde.axes[1]},{pde.axes[0]},u\n" + rows + "\n")  # columns in any order: here reversed
    return x, u


def test_observations_train_and_a_held_out_share_is_scored(tmp_path):
    csv = tmp_path / "heat.csv"
    _heat_csv(csv)
    summary = train(compose_cfg(tmp_path / "run", f"data.observations={csv}", "data.observations_holdout=0.25",
                                "+loss_weights.observed=10", *SHORT))  # fmt: skip
    assert math.isfinite(summary["train/loss_observed"]) and math.isfinite(summary["val/data_rel"])
    csv.unlink()  # the data shaped the weights; evaluating the checkpoint does not read it again
    module = load(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert module.pde.name == "heat" and module.pde.observed_x.shape[0] == 0  # its place kept, no rows read


def test_rows_are_split_reproducibly_and_columns_reordered(tmp_path):
    csv = tmp_path / "heat.csv"
    x, _ = _heat_csv(csv, n=40)
    pde = Heat()
    obs = read_observations(csv, pde.axes, pde.fields, pde.domain)
    assert obs.fields == ("u",) and obs.x.shape == (40, 2)
    torch.testing.assert_close(obs.x, x)  # the PDE's axis order, whatever the file's
    train_rows, held = obs.split(0.25, seed=3)
    _, held_again = obs.split(0.25, seed=3)
    assert held.x.shape[0] == 10 and train_rows.x.shape[0] == 30 and torch.equal(held.x, held_again.x)
    assert not any((held.x[:, None] == train_rows.x[None]).all(-1).any(-1))


def test_a_hidden_field_stays_unobserved(tmp_path):
    pde = Kovasznay()
    x = pde.domain.sample("interior", 64, torch.Generator().manual_seed(0), torch.float64)
    uvp = pde.exact(x)
    np.savez(tmp_path / "velocity.npz", x=x[:, 0].numpy(), y=x[:, 1].numpy(), u=uvp[:, 0].numpy(),
             v=uvp[:, 1].numpy())  # fmt: skip
    obs = read_observations(tmp_path / "velocity.npz", pde.axes, pde.fields, pde.domain)
    assert obs.fields == ("u", "v") and obs.values.shape == (64, 2)
    summary = train(compose_cfg(tmp_path / "run", "pde=kovasznay", f"data.observations={tmp_path / 'velocity.npz'}",
                                "data.observations_holdout=0", *SHORT))  # fmt: skip
    assert math.isfinite(summary["train/loss_observed"]) and "val/data_rel" not in summary


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t,x,u\n0.5,0.1,0.2\n0.5,nan,0.1\n", r"line 3, column 'x': nan \(1 non-finite in that column\)"),
        ("t,x,u\n0.5,0.1,inf\n", r"line 2, column 'u': inf"),
        ("t,x,u,w\n0.5,0.1,0.2,1\n", r"unknown column\(s\) \['w'\]; the axes are \['t', 'x'\] and the fields \['u'\]"),
        ("t,u\n0.5,0.2\n", r"no column for the axis/axes \['x'\]"),
        ("t,x\n0.5,0.2\n", r"no observed field; name a column after one of \['u'\]"),
        ("t,x,u\n0.5,abc,0.2\n", r"line 2, column 'x': 'abc' is not a number"),
        ("t,x,u\n0.5,0.1,0.2\n0.5,3.0,0.2\n", r"line 3 lies outside the domain: \{'t': 0.5, 'x': 3.0\}"),
        ("t,x,u\n0.5,0.1\n", r"line 2 has 2 values for the 3 columns"),
    ],
)
def test_bad_files_are_refused_before_training_naming_file_row_and_column(tmp_path, text, message):
    path = tmp_path / "obs.csv"
    path.write_text(text)
    pde = Heat()
    with pytest.raises(ObservationError, match=message) as err:
        read_observations(path, pde.axes, pde.fields, pde.domain)
    assert str(path) in str(err.value)
    with pytest.raises(ObservationError, match=message):  # and from a run: nothing written
        train(compose_cfg(tmp_path / "run", f"data.observations={path}", *SHORT))
    assert not (tmp_path / "run" / "summary.json").exists()


def test_other_bad_inputs(tmp_path):
    pde = Heat()
    with pytest.raises(ObservationError, match=r"is not one of \.csv, \.npz"):
        read_observations(tmp_path / "obs.xlsx", pde.axes, pde.fields, pde.domain)
    with pytest.raises(ObservationError, match="does not exist"):
        read_observations(tmp_path / "missing.csv", pde.axes, pde.fields, pde.domain)
    np.savez(tmp_path / "bad.npz", t=np.zeros(3), x=np.zeros(2), u=np.zeros(3))
    with pytest.raises(ObservationError, match=r"different lengths \[2, 3\]"):
        read_observations(tmp_path / "bad.npz", pde.axes, pde.fields, pde.domain)
    np.savez(tmp_path / "nan.npz", t=np.full(3, 0.5), x=np.array([0.0, np.nan, 0.1]), u=np.zeros(3))
    with pytest.raises(ObservationError, match=r"row 1, column 'x'"):
        read_observations(tmp_path / "nan.npz", pde.axes, pde.fields, pde.domain)
    _heat_csv(tmp_path / "ok.csv", n=4)
    obs = read_observations(tmp_path / "ok.csv", pde.axes, pde.fields, pde.domain)
    with pytest.raises(ObservationError, match=r"data.observations_holdout must lie in \[0, 1\), got 1.0"):
        obs.split(1.0, 0)
    assert json.dumps(list(obs.fields)) == '["u"]'


def test_a_coefficient_declared_learnable_trains_with_the_data(tmp_path):
    csv = tmp_path / "heat.csv"
    _heat_csv(csv)
    summary = train(compose_cfg(tmp_path / "run", "+pde.learn={kappa: 0.5}", f"data.observations={csv}", *SHORT))
    learned = summary["learned"]
    assert learned["kappa_true"] == 0.1 and learned["kappa"] != pytest.approx(0.5, rel=1e-6)  # moved
    module = load(tmp_path / "run" / "checkpoints" / "last.ckpt")  # the learned κ is part of the weights
    assert float(module.pde.coefficient("kappa")) == pytest.approx(learned["kappa"], rel=1e-6)
    with pytest.raises(ValueError, match=r"heat: pde.learn names 'nu'; the coefficients are \['kappa'\]"):
        Heat(learn={"nu": 0.1})
    with pytest.raises(ValueError, match=r"pde.learn.kappa is the initial value, it must be > 0, got -1"):
        Heat(learn={"kappa": -1})
