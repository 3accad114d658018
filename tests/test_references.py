"""The reference solvers pinnkit computes itself: Cole-Hopf quadrature for Burgers."""

from __future__ import annotations

import math

import pytest
import torch

from pinnkit.pdes import Burgers
from pinnkit.pdes.burgers import cole_hopf

NU = 0.01 / math.pi


def test_known_maximum_slope():
    """Basdevant et al. (1986): max |u_x| = 152.00516 at t = 1.6037/π, x = 0."""
    x = torch.tensor([[1.6037 / math.pi, 0.0]], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(cole_hopf(x, NU).sum(), x)
    assert abs(g[0, 1].item() + 152.00516) < 1e-4


def test_converges_in_the_number_of_nodes():
    _, mesh = Burgers().grid()
    mesh = mesh[::10, ::8]
    coarse, fine = cole_hopf(mesh, NU, 120), cole_hopf(mesh, NU, 300)
    assert (cole_hopf(mesh, NU, 20) - fine).abs().max() > 1e-3  # too few nodes is visibly wrong
    assert (coarse - fine).abs().max() < 1e-10


def test_initial_and_boundary_values_and_symmetry():
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)
    t0 = torch.stack([torch.zeros_like(x), x], -1)
    torch.testing.assert_close(cole_hopf(t0, NU), -torch.sin(math.pi * x), rtol=0, atol=1e-12)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    for side in (-1.0, 1.0):
        edge = torch.stack([t, torch.full_like(t, side)], -1)
        assert cole_hopf(edge, NU).abs().max() < 1e-10
    pts = torch.rand(50, 2, dtype=torch.float64)
    mirrored = pts * torch.tensor([1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(cole_hopf(mirrored, NU), -cole_hopf(pts, NU), rtol=0, atol=1e-12)  # u is odd in x


def test_node_count_is_checked():
    with pytest.raises(ValueError, match="2 <= nodes <= 300"):
        cole_hopf(torch.zeros(1, 2), NU, 400)
