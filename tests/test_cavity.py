"""The lid-driven cavity: named faces with their own terms and point counts, Ghia et al.'s centreline tables as
validation metrics of a PDE without a closed form."""

from __future__ import annotations

import math

import pytest
import torch

from pinnkit.pdes import Cavity
from pinnkit.points import CollocationPlan
from pinnkit.shapes import Rectangle
from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_train import SHORT


def test_the_lid_and_the_walls_are_sampled_apart_with_their_own_counts():
    pde = Cavity()
    plan = CollocationPlan(pde, {"interior": 64, "boundary": 20, "lid": 12})
    assert plan.count("lid") == 12 and plan.count("wall") == 20  # a term's own key wins over its region's
    batch = plan.sample(0, torch.float64, torch.device("cpu"), score=None)
    lid, wall = batch.points["lid"], batch.points["wall"]
    assert lid.shape == (12, 2) and (lid[:, 1] == 1).all()
    on_wall = (wall[:, 0] == 0) | (wall[:, 0] == 1) | (wall[:, 1] == 0)
    assert wall.shape == (20, 2) and on_wall.all() and set(pde.domain.pieces) == {"lid", "wall.bottom", "wall.left",
                                                                                  "wall.right"}  # fmt: skip
    with pytest.raises(ValueError, match=r"set data\.points\.boundary \(or data\.points\.lid, for this term alone\)"):
        CollocationPlan(pde, {"interior": 64})


def test_faces_are_renamed_only_by_their_own_names():
    with pytest.raises(ValueError, match=r"a rectangle's faces are \['x_lower', 'x_upper', 'y_lower', 'y_upper'\]; "
                                         r"faces= names \['top'\]"):  # fmt: skip
        Rectangle([0, 0], [1, 1], axes=("x", "y"), faces={"top": "lid"})


def test_ghias_tables_are_the_centreline_values():
    tables = Cavity().tables()
    u, v = tables["ghia_u"], tables["ghia_v"]
    assert u.x.shape == (17, 2) and (u.x[:, 0] == 0.5).all() and u.field == "u"
    assert v.x.shape == (17, 2) and (v.x[:, 1] == 0.5).all() and v.field == "v"
    assert float(u.values[u.x[:, 1] == 1]) == 1.0 and float(u.values.min()) == pytest.approx(-0.2109)
    assert float(v.values.min()) == pytest.approx(-0.24533) and float(v.values.max()) == pytest.approx(0.17527)
    assert Cavity(re=400).tables() == {}  # only Re = 100 is tabulated here


def test_a_short_run_logs_the_table_errors_and_judges_by_the_residual(tmp_path):
    summary = train(compose_cfg(tmp_path, "pde=cavity", "pde.n=17", "data.points.interior=64",
                                "data.points.boundary=32", *SHORT))  # fmt: skip
    assert summary["objective"] == "val/loss" and "val/l2_rel" not in summary
    assert math.isfinite(summary["val/ghia_u_rel"]) and math.isfinite(summary["val/ghia_v_rel"])


def test_the_lids_slip_is_tapered_to_the_corners_and_its_v_is_not():
    x = torch.tensor([[0.0, 1.0], [0.25, 1.0], [0.5, 1.0], [1.0, 1.0]], dtype=torch.float64)
    d = {"u": torch.zeros(4, dtype=torch.float64), "v": torch.ones(4, dtype=torch.float64)}
    tapered, plain = Cavity(lid_taper=True).lid(d, x), Cavity().lid(d, x)
    torch.testing.assert_close(tapered[:, 0], -torch.tensor([0.0, 0.5, 1.0, 0.0], dtype=torch.float64).sqrt())
    torch.testing.assert_close(tapered[:, 1], plain[:, 1])  # v = 0 keeps its full weight
    assert (plain[:, 0] == -1).all()
