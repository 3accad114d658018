"""Point sets of each region lie where they should."""

from __future__ import annotations

import pytest
import torch

from pinnkit.domain import Box


@pytest.fixture
def box():
    return Box({"t": (0.0, 2.0), "x": (-1.0, 1.0), "y": (0.0, 3.0)})


def test_regions(box):
    g = torch.Generator().manual_seed(0)
    inner = box.sample("interior", 500, g)
    assert inner.shape == (500, 3) and (inner[:, 1].abs() <= 1).all() and (inner[:, 0] <= 2).all()
    init = box.sample("initial", 50, g)
    assert (init[:, 0] == 0).all()
    bnd = box.sample("boundary", 4000, g)
    on_x = (bnd[:, 1].abs() == 1).float().mean()
    on_y = ((bnd[:, 2] == 0) | (bnd[:, 2] == 3)).float().mean()
    assert on_x + on_y == 1  # every point on exactly one kind of face
    assert abs(on_x - 0.6) < 0.03  # x-faces have measure 3 each, y-faces 2 each: 6 / (6 + 4)
    pair = box.sample("periodic:x", 20, g)
    assert pair.shape == (20, 2, 3) and (pair[:, 0, 1] == -1).all() and (pair[:, 1, 1] == 1).all()
    torch.testing.assert_close(pair[:, 0, [0, 2]], pair[:, 1, [0, 2]])


def test_same_seed_same_points(box):
    a = box.sample("interior", 10, torch.Generator().manual_seed(3))
    b = box.sample("interior", 10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_bad_input(box):
    g = torch.Generator()
    with pytest.raises(ValueError, match=r"unknown region 'edge'.*valid: \('initial', 'interior', 'boundary'"):
        box.sample("edge", 10, g)
    with pytest.raises(ValueError, match="must be >= 1"):
        box.sample("interior", 0, g)
    with pytest.raises(ValueError, match="lower < upper"):
        Box({"x": (1.0, 1.0)})
