"""Every backend against closed-form derivatives in float64, for several leading shapes."""

from __future__ import annotations

import pytest
import torch

from pinnkit.derivatives import UnsupportedRequest
from pinnkit.jets import Jet
from pinnkit.jets import activations as act

A = torch.tensor([0.7, -1.3, 0.4], dtype=torch.float64)
B = torch.tensor([0.2, 0.5, -0.3], dtype=torch.float64)
SHAPES = [(7,), (2, 5), ()]  # leading dims: (N, d), (B, N, d), (d,)


class ScalarFn(torch.nn.Module):
    """f(x) = sin(a·x) exp(b·x): (..., d) -> (...,); a module with a jet rule, so ``taylor`` is tested too."""

    def forward(self, x):
        d = x.shape[-1]
        return torch.sin(x @ A[:d]) * torch.exp(x @ B[:d])

    def forward_jet(self, j):
        d = j.value.shape[-1]
        return j.linear(A[None, :d]).map(act.sin) * j.linear(B[None, :d]).map(act.exp)


scalar_fn = ScalarFn()


def scalar_derivs(x):
    d = x.shape[-1]
    a, b = A[:d], B[:d]
    s, c, e = torch.sin(x @ a), torch.cos(x @ a), torch.exp(x @ b)
    jac = e[..., None] * (c[..., None] * a + s[..., None] * b)
    hess = e[..., None, None] * (
        c[..., None, None] * (torch.outer(a, b) + torch.outer(b, a))
        + s[..., None, None] * (torch.outer(b, b) - torch.outer(a, a))
    )
    return jac[..., None, :], hess[..., None, :, :]


class Map3(torch.nn.Module):
    """(x0 x1 x2, sin x0 + x1², x0 e^{x2}): (..., 3) -> (..., 3); its jet rule uses products, sums, columns, cat."""

    def forward(self, x):
        x0, x1, x2 = x.unbind(-1)
        return torch.stack([x0 * x1 * x2, torch.sin(x0) + x1**2, x0 * torch.exp(x2)], -1)

    def forward_jet(self, j):
        x0, x1, x2 = j[[0]], j[[1]], j[[2]]
        return Jet.cat([x0 * x1 * x2, x0.map(act.sin) + x1 * x1, x0 * x2.map(act.exp)])


map3 = Map3()


def map3_derivs(x):
    x0, x1, x2 = x.unbind(-1)
    z, e = torch.zeros_like(x0), torch.exp(x2)
    jac = torch.stack(
        [
            torch.stack([x1 * x2, x0 * x2, x0 * x1], -1),
            torch.stack([torch.cos(x0), 2 * x1, z], -1),
            torch.stack([e, z, x0 * e], -1),
        ],
        -2,
    )
    h0 = torch.stack([torch.stack(r, -1) for r in ([z, x2, x1], [x2, z, x0], [x1, x0, z])], -2)
    h1 = torch.stack([torch.stack(r, -1) for r in ([-torch.sin(x0), z, z], [z, 2 + z, z], [z, z, z])], -2)
    h2 = torch.stack([torch.stack(r, -1) for r in ([z, z, e], [z, z, z], [e, z, x0 * e])], -2)
    return jac, torch.stack([h0, h1, h2], -3)


def points(lead, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*lead, d, generator=g, dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize("lead", SHAPES)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_scalar_function_full(backend, lead, d):
    x = points(lead, d)
    out = backend(scalar_fn, x)
    jac, hess = scalar_derivs(x)
    assert out.u.shape == (*lead, 1)
    assert out.jac.shape == (*lead, 1, d) and out.hess.shape == (*lead, 1, d, d)
    torch.testing.assert_close(out.u[..., 0], scalar_fn(x), rtol=0, atol=1e-13)
    torch.testing.assert_close(out.jac, jac, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.hess, hess, rtol=0, atol=1e-12)


@pytest.mark.parametrize("lead", SHAPES)
def test_map3_full_and_named(backend, lead):
    x = points(lead, 3, seed=1)
    jac, hess = map3_derivs(x)
    out = backend(map3, x)
    assert out.jac.shape == (*lead, 3, 3) and out.hess.shape == (*lead, 3, 3, 3)
    torch.testing.assert_close(out.jac, jac, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.hess, hess, rtol=0, atol=1e-12)
    named = backend(map3, x, ("u_xy", "v_x", "w_zz", "w_xz", "u"), fields=("u", "v", "w"))
    torch.testing.assert_close(named["u_xy"], x[..., 2], rtol=0, atol=1e-12)
    torch.testing.assert_close(named["u_yx"], x[..., 2], rtol=0, atol=1e-12)  # same entry, other order
    torch.testing.assert_close(named["v_x"], torch.cos(x[..., 0]), rtol=0, atol=1e-12)
    torch.testing.assert_close(named["w_zz"], x[..., 0] * torch.exp(x[..., 2]), rtol=0, atol=1e-12)
    torch.testing.assert_close(named["w_xz"], torch.exp(x[..., 2]), rtol=0, atol=1e-12)
    torch.testing.assert_close(named["u"], map3(x)[..., 0], rtol=0, atol=1e-13)
    assert named["v_x"].shape == lead


def test_third_order(backend):
    x = points((6,), 3, seed=2)
    needs = ("u_xyz", "v_xxx", "w_zzz")
    if backend.max_order is not None and backend.max_order < 3:
        with pytest.raises(UnsupportedRequest, match="order 3"):
            backend(map3, x, needs, fields=("u", "v", "w"))
        return
    out = backend(map3, x, needs, fields=("u", "v", "w"))
    torch.testing.assert_close(out["u_xyz"], torch.ones(6, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(out["v_xxx"], -torch.cos(x[:, 0]), rtol=0, atol=1e-12)
    torch.testing.assert_close(out["w_zzz"], x[:, 0] * torch.exp(x[:, 2]), rtol=0, atol=1e-12)


def test_named_axes(backend):
    """Axis and field names come from the caller; multi-letter axes parse by longest match."""
    x = points((5,), 3, seed=3)
    out = backend(map3, x, ("p_x0x1", "q_x0"), axes=("x0", "x1", "x2"), fields=("p", "q", "r"))
    torch.testing.assert_close(out["p_x0x1"], x[:, 2], rtol=0, atol=1e-12)
    torch.testing.assert_close(out["q_x0"], torch.cos(x[:, 0]), rtol=0, atol=1e-12)
