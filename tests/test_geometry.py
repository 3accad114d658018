"""Non-box domains by signed distance (disk, polygon, L-shape) and the Poisson problem on them."""

from __future__ import annotations

import math

import pytest
import torch

from pinnkit.derivatives import Autograd
from pinnkit.geometry import Disk, Polygon, ShapeDomain, l_shape
from pinnkit.pdes import Poisson
from pinnkit.sampling import SAMPLERS

GEN = lambda s=0: torch.Generator().manual_seed(s)  # noqa: E731


def test_disk_sdf_and_boundary():
    disk = Disk((1.0, -2.0), 0.5)
    x = torch.tensor([[1.0, -2.0], [2.0, -2.0], [1.0, -1.75]], dtype=torch.float64)
    torch.testing.assert_close(disk.sdf(x), torch.tensor([-0.5, 0.5, -0.25], dtype=torch.float64))
    b = disk.boundary(torch.rand(100, generator=GEN(), dtype=torch.float64))
    assert disk.sdf(b).abs().max() < 1e-12


def test_l_shape_sdf_known_values():
    shape = l_shape()
    x = torch.tensor([[-0.5, -0.5], [0.5, 0.5], [0.5, -0.5], [-0.5, 0.5], [2.0, 0.0], [0.25, 0.5]], dtype=torch.float64)
    want = torch.tensor([-0.5, 0.5, -0.5, -0.5, 1.0, 0.25], dtype=torch.float64)  # inside < 0, the missing square > 0
    torch.testing.assert_close(shape.sdf(x), want)
    assert shape.area == 3.0


def test_polygon_boundary_points_lie_on_edges_uniformly_by_length():
    shape = l_shape()  # perimeter 8: the two unit inner edges hold 2/8 of the points
    b = shape.boundary(torch.rand(40000, generator=GEN(), dtype=torch.float64))
    assert shape.sdf(b).abs().max() < 1e-12
    inner = ((b[:, 0].abs() < 1e-12) & (b[:, 1] > 0)) | ((b[:, 1].abs() < 1e-12) & (b[:, 0] > 0))
    assert abs(inner.double().mean().item() - 0.25) < 0.01


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_shape_domain_interior_is_inside_and_fills_it(sampler):
    dom = ShapeDomain(l_shape())
    x = dom.sample("interior", 3000, GEN(1), torch.float64, sampler=sampler)
    assert x.shape == (3000, 2) and (dom.shape.sdf(x) < 0).all()
    quadrants = [((x[:, 0] < 0) & (x[:, 1] < 0)), ((x[:, 0] > 0) & (x[:, 1] < 0)), ((x[:, 0] < 0) & (x[:, 1] > 0))]
    for q in quadrants:  # the three unit squares of the L hold a third of the points each
        assert abs(q.double().mean().item() - 1 / 3) < 0.04
    assert dom.sample("boundary", 10, GEN(), torch.float64, sampler=sampler).shape == (10, 2)


def test_shape_domain_bad_input():
    dom = ShapeDomain(Disk())
    with pytest.raises(ValueError, match=r"unknown region 'initial'.*valid: \('interior', 'boundary'\)"):
        dom.sample("initial", 4, GEN())
    with pytest.raises(ValueError, match=">= 3 vertices"):
        Polygon([(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="zero area"):
        Polygon([(0, 0), (1, 1), (2, 2)])
    with pytest.raises(ValueError, match="radius must be > 0"):
        Disk(radius=0)
    with pytest.raises(ValueError, match=r"unknown geometry 'star'; valid: \('square', 'lshape', 'disk'\)"):
        Poisson(geometry="star")


@pytest.mark.parametrize("geometry", ["square", "lshape", "disk"])
def test_poisson_exact_solution_on_every_geometry(geometry):
    pde = Poisson(geometry=geometry).double()
    gen = GEN(3)
    for term in pde.terms():
        x = pde.domain.sample(term.region, 128, gen, torch.float64)
        r = term.residual(Autograd()(pde.exact, x, term.needs, axes=pde.axes, fields=pde.fields), x)
        assert r.abs().max() < 1e-9, f"{geometry}/{term.name}"
    b = pde.domain.sample("boundary", 64, gen, torch.float64)  # boundary data (x² + y²)/4 everywhere
    torch.testing.assert_close(pde.exact(b)[..., 0], b.square().sum(-1) / 4)


def test_grid_mask_keeps_the_domain_only():
    pde = Poisson(n=201, geometry="disk")
    _, mesh = pde.grid()
    mask = pde.domain.contains(mesh.reshape(-1, 2))
    assert abs(mask.double().mean().item() - math.pi / 4) < 0.01  # the disk fills π/4 of its bounding box
