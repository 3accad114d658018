"""Shapes and constructive geometry: boundary points lie on the boundary with the analytic normals (balls, boxes,
cylinders, polygons), CSG normals equal a finite-difference gradient of the SDF, sampled points are inside or on
the boundary, named pieces are sampled alone, and time extends a shape into space-time."""

from __future__ import annotations

import math

import pytest
import torch

from pinnkit.geometry import GeometryDomain
from pinnkit.shapes import Ball, Cylinder, PolygonShape, Rectangle, Shape

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _fd_normal(shape, x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    eye = torch.eye(x.shape[-1], dtype=F64)
    g = torch.stack([(shape.sdf(x + h * e) - shape.sdf(x - h * e)) / (2 * h) for e in eye], -1)
    return g / g.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("dim", [2, 3])
def test_ball_and_box_normals_are_the_analytic_ones(dim):
    ball = Ball([0.2] * dim, 0.7)
    x, n, piece = ball.boundary(500, _gen(), F64)
    assert ball.sdf(x).abs().max() < 1e-12 and (piece == 0).all()
    torch.testing.assert_close(n, (x - 0.2) / 0.7)
    torch.testing.assert_close(ball.normal(x), n)
    torch.testing.assert_close(Shape.normal(ball, x), n)  # the generic SDF-gradient normal agrees
    box = Rectangle([0.0] * dim, [1.0, 2.0, 3.0][:dim])
    x, n, face = box.boundary(500, _gen(1), F64)
    assert box.sdf(x).abs().max() < 1e-12 and len(box.pieces) == 2 * dim
    axis, upper = face // 2, face % 2
    expected = torch.zeros_like(x)
    expected[torch.arange(500), axis] = 2.0 * upper.to(F64) - 1.0
    torch.testing.assert_close(n, expected)
    torch.testing.assert_close(box.normal(x), expected)
    assert (x[torch.arange(500), axis] == torch.where(upper == 1, torch.tensor([1.0, 2.0, 3.0][:dim])[axis], 0.0)).all()


def test_cylinder_and_polygon_normals():
    cyl = Cylinder([0.0, 0.0], 0.5, -1.0, 1.0, axis=2)
    x, n, piece = cyl.boundary(600, _gen(), F64)
    assert cyl.sdf(x).abs().max() < 1e-12 and set(piece.tolist()) == {0, 1, 2}
    side = piece == 0
    torch.testing.assert_close(n[side], torch.cat([x[side, :2] / 0.5, torch.zeros(int(side.sum()), 1, dtype=F64)], 1))
    assert (n[piece == 1, 2] == -1).all() and (n[piece == 2, 2] == 1).all()
    tri = PolygonShape([(0, 0), (0, 1), (1, 0)])  # clockwise: the normals still point out
    x, n, _ = tri.boundary(300, _gen(), F64)
    assert tri.sdf(x).abs().max() < 1e-12
    assert (tri.sdf(x + 1e-3 * n) > 0).all() and (tri.sdf(x - 1e-3 * n) < 0).all()


def test_a_3d_csg_domain_has_the_sdf_gradient_as_normal_and_samples_inside_or_on_it():
    block = Rectangle([0, 0, 0], [2, 1, 1], name="block")
    shape = (block - Ball([1.0, 0.5, 0.4], 0.3, name="cavity")) | Cylinder([1.0, 0.5], 0.2, 0.8, 1.5, name="post")
    assert shape.pieces[-4:] == ("cavity", "post.side", "post.bottom", "post.top")
    x, n, piece = shape.boundary(3000, _gen(), F64)
    assert shape.sdf(x).abs().max() < 1e-12
    fd = _fd_normal(shape, x)
    agree = (n - fd).norm(dim=-1) < 1e-5
    assert agree.float().mean() > 0.99, f"{int((~agree).sum())} of 3000 disagree"  # edges have measure zero
    torch.testing.assert_close(shape.normal(x)[agree], n[agree])
    cavity = piece == shape.pieces.index("cavity")
    assert cavity.any() and ((x[cavity] - x.new_tensor([1.0, 0.5, 0.4])) * n[cavity]).sum(-1).lt(0).all()  # inward
    assert not (piece == shape.pieces.index("post.bottom")).any()  # the post's bottom lies inside the block
    domain = GeometryDomain(shape, ("x", "y", "z"))
    inner = domain.sample("interior", 4000, _gen(2), F64)
    assert (shape.sdf(inner) < 0).all() and inner.shape == (4000, 3)
    on = domain.sample("boundary:post", 500, _gen(3), F64)
    assert shape.sdf(on).abs().max() < 1e-12 and (on[:, 2] > 1.0 - 1e-12).all()  # the post's part above the block


def test_a_shape_times_an_interval_and_clear_errors():
    hole = Rectangle([-1, -1], [1, 1], name="outer") - Ball([0.0, 0.0], 0.4, name="hole")
    domain = GeometryDomain(hole, ("x", "y"), time=(0.0, 2.0))
    assert domain.axes == ("t", "x", "y") and domain.regions()[0] == "initial"
    x = domain.sample("boundary:hole", 200, _gen(), F64)
    torch.testing.assert_close(x[:, 1:].norm(dim=-1), torch.full((200,), 0.4, dtype=F64))
    assert x[:, 0].min() >= 0 and x[:, 0].max() <= 2 and x[:, 0].std() > 0.3
    normals = domain.normal(x)
    assert (normals[:, 0] == 0).all()
    torch.testing.assert_close(normals[:, 1:], -x[:, 1:] / 0.4)  # out of the domain: into the hole
    assert (domain.sample("initial", 100, _gen(), F64)[:, 0] == 0).all()
    outer = domain.sample("boundary:outer", 300, _gen(), F64)
    assert (outer[:, 1:].abs().max(-1).values - 1).abs().max() < 1e-12
    with pytest.raises(ValueError, match=r"unknown boundary piece 'lid'; the pieces are \['outer.x0_lower'"):
        domain.sample("boundary:lid", 10, _gen(), F64)
    with pytest.raises(ValueError, match="constructive geometry needs shapes of one dimension, got 2 and 3"):
        Ball([0, 0], 1.0) | Ball([0, 0, 0], 1.0)
    with pytest.raises(ValueError, match=r"a 2-D shape needs 2 axis names, got \['x'\]"):
        GeometryDomain(hole, ("x",))
    assert math.isclose(hole.b.boundary_measure(), 2 * math.pi * 0.4)
