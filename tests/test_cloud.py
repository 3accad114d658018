"""Point-cloud geometry from a file (``pinnkit.cloud``): draws come from the stored points with their normals and
pieces, the signed distance and normals are those of the nearest boundary point, a PDE trains on it, and every bad
file is refused naming the file and the array."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinnkit.cloud import CloudFileError, PointCloudDomain
from pinnkit.pdes import Membrane, Poisson
from pinnkit.train import train
from tests.conftest import compose_cfg


def disk_cloud(path, m: int = 720, interior: int = 0):
    """The unit disk as a file: ``m`` boundary points, normals ``(cos a, sin a)``, the upper half labelled ``rim``
    and the lower ``base``; optionally ``interior`` stored points inside."""
    a = np.linspace(0, 2 * np.pi, m, endpoint=False)
    normals = np.stack([np.cos(a), np.sin(a)], 1)
    arrays = {"boundary": normals.copy(), "normals": normals, "labels": np.where(np.sin(a) >= 0, "rim", "base")}
    if interior:
        rng = np.random.default_rng(0)
        r, t = np.sqrt(rng.random(interior)) * 0.999, rng.random(interior) * 2 * np.pi
        arrays["interior"] = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    np.savez(path, **arrays)
    return path


def test_draws_normals_and_signed_distance_come_from_the_points(tmp_path):
    dom = PointCloudDomain(disk_cloud(tmp_path / "disk.npz"), ("x", "y"))
    gen = torch.Generator().manual_seed(0)
    assert dom.pieces == ("rim", "base") and dom.regions() == ("interior", "boundary", "boundary:rim", "boundary:base")
    inside = dom.sample("interior", 500, gen, torch.float64)
    assert (inside.norm(dim=-1) < 1 + 1e-2).all()  # rejection with the cloud's sdf: inside up to the spacing
    rim = dom.sample("boundary:rim", 200, gen, torch.float64)
    assert (rim[:, 1] >= 0).all() and torch.allclose(rim.norm(dim=-1), torch.ones(200, dtype=torch.float64))
    torch.testing.assert_close(dom.normal(rim), rim)  # on the unit circle the normal is the point
    probe = torch.tensor([[0.0, 0.0], [0.5, 0.2], [1.5, 0.0], [0.0, -2.0]], dtype=torch.float64)
    torch.testing.assert_close(dom.shape.sdf(probe), probe.norm(dim=-1) - 1, atol=1e-4, rtol=0)
    assert dom.contains(probe).tolist() == [True, True, False, False]


def test_stored_interior_points_are_drawn_as_they_are(tmp_path):
    dom = PointCloudDomain(disk_cloud(tmp_path / "disk.npz", interior=300), ("x", "y"), time=(0.0, 2.0))
    stored = dom.stored
    x = dom.sample("interior", 100, torch.Generator().manual_seed(1), torch.float64)
    assert x.shape == (100, 3) and (x[:, 0] >= 0).all() and (x[:, 0] <= 2).all()  # time first, in its interval
    assert all(((stored - p).abs().sum(-1) == 0).any() for p in x[:, 1:])
    initial = dom.sample("initial", 10, torch.Generator().manual_seed(1), torch.float64)
    assert (initial[:, 0] == 0).all()


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"boundary": np.zeros((3, 2))}, r"no array 'normals' \(it has \['boundary'\]\)"),
        (
            {"boundary": np.zeros((3, 3)), "normals": np.zeros((3, 3))},
            r"'boundary' must be numbers of shape \(n >= 1, 2\)",
        ),
        ({"boundary": np.zeros((3, 2)), "normals": np.ones((2, 2)) / math.sqrt(2)}, r"3 boundary points but 2 normals"),
        ({"boundary": np.array([[0, 0], [np.nan, 1]]), "normals": np.eye(2)}, r"'boundary' row 1 is not finite"),
        ({"boundary": np.zeros((2, 2)), "normals": np.array([[1, 0], [1, 1]])}, r"normals row 1 is not a unit vector"),
        (
            {"boundary": np.zeros((2, 2)), "normals": np.eye(2), "labels": np.array(["a"])},
            r"'labels' must be 2 strings",
        ),
    ],
)
def test_bad_files_are_refused_naming_file_and_array(tmp_path, arrays, message):
    path = tmp_path / "cloud.npz"
    np.savez(path, **arrays)
    with pytest.raises(CloudFileError, match=message) as err:
        PointCloudDomain(path, ("x", "y"))
    assert str(path) in str(err.value)


def test_missing_or_other_files_and_hard_constraints_are_refused(tmp_path):
    with pytest.raises(CloudFileError, match="does not exist"):
        PointCloudDomain(tmp_path / "none.npz", ("x", "y"))
    with pytest.raises(CloudFileError, match=r"is not a \.npz"):
        PointCloudDomain(tmp_path / "mesh.stl", ("x", "y"))
    with pytest.raises(ValueError, match=r"membrane: hard=true needs a geometry with a known boundary function"):
        Membrane(geometry=str(disk_cloud(tmp_path / "disk.npz")))


def test_a_pde_trains_on_a_point_cloud_and_gets_the_known_answer(tmp_path):
    """The membrane on a cloud of the unit disk (soft boundary term): its solution is ``(1 - r²)/4``."""
    cloud = disk_cloud(tmp_path / "disk.npz")
    assert Poisson(geometry=str(cloud)).has_reference  # w = 1: the manufactured solution holds on any domain
    cfg = compose_cfg(tmp_path / "run", "pde=membrane", f"pde.geometry={cloud}", "pde.hard=false", "pde.n=41",
                      "derivative=taylor", "optim=adam_ssbroyden", "optim.second_from=200", "trainer.max_steps=300",
                      "trainer.val_check_interval=100", "trainer.enable_progress_bar=false", "model.width=16",
                      "model.depth=2", "data.points.interior=512", "data.points.boundary=256", "data.resample_every=0",
                      "trainer.precision=64")  # fmt: skip
    train(cfg)
    sol = np.load(tmp_path / "run" / "solution.npz")
    inside = np.isfinite(sol["u_pred"])
    r2 = (sol["x"][:, None] ** 2 + sol["y"][None, :] ** 2)[inside]
    exact = (1 - r2) / 4
    assert 0.7 < inside.mean() < 0.85  # the grid masked by the cloud's sdf: the disk covers π/4 of its box
    err = np.linalg.norm(sol["u_pred"][inside] - exact) / np.linalg.norm(exact)
    assert err < 1e-3, err  # 3.5e-5 after 400 steps when measured
