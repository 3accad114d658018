"""Stochastic Laplacian and biharmonic estimates: exact unbiasedness by enumerating direction sets, the known
variance, every backend alike, two independent groups, directions from ``(seed, step)``, clear errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from pinnkit.derivatives import Autograd, BatchedGrad, Taylor, get_backend
from pinnkit.derivatives.estimates import Estimator, biharmonic, draw, exact_request
from pinnkit.derivatives.names import laplacian, make_request
from pinnkit.nets import MLP

AXES = ("x", "y", "z")
LAP = laplacian("u", AXES)
BIH = biharmonic("u", AXES)
GENERAL = "u_xy+0.5*u_xxyy+-2.0*u_z+0.3*u_xxx+1.5*u_yyzz+0.7*u_xx+-0.4*u_xyz"  # orders 1 to 4, mixed terms


def _net(d: int = 3, seed: int = 0) -> MLP:
    torch.manual_seed(seed)
    return MLP(d, 1, 12, 2, "tanh", False).double()


def _x(n: int = 6, d: int = 3) -> torch.Tensor:
    return torch.rand(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("backend", ["autograd", "batched_grad", "func", "functional", "taylor", "auto"])
def test_rademacher_enumeration_is_the_exact_laplacian(backend):
    """All 2^d sign vectors as one group: the mean of vᵀHv is tr H exactly (E[v vᵀ] = I over the set)."""
    net, x = _net(), _x()
    signs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=3)), dtype=torch.float64)[None]  # (1, 8, 3)
    got = get_backend(backend)(net, x, ("~" + LAP,), directions=signs)
    ref = Autograd()(net, x, (LAP,))
    torch.testing.assert_close(got["~" + LAP], ref[LAP], rtol=0, atol=1e-12)


def test_gaussian_moment_enumeration_is_the_exact_biharmonic():
    """Each coordinate from {0, 0, 0, 0, √3, -√3} (E[v²] = 1, E[v⁴] = 3, the Gaussian's moments up to order 5),
    all 6^d combinations: the mean of D⁴u[v]/3 is Δ²u exactly, under taylor and through nested HVPs."""
    net, x = _net(), _x(4)
    vals = [0.0, 0.0, 0.0, 0.0, math.sqrt(3), -math.sqrt(3)]
    cube = torch.tensor(list(itertools.product(vals, repeat=3)), dtype=torch.float64)[None]  # (1, 216, 3)
    ref = Autograd()(net, x, (BIH,))[BIH]
    for backend in (Taylor(), Autograd()):
        got = backend(net, x, ("~" + BIH,), directions=cube)["~" + BIH]
        torch.testing.assert_close(got, ref, rtol=1e-11, atol=1e-11, msg=lambda m, b=backend: f"{b.name}: {m}")


def _gauss_hermite(d: int, nodes: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Product Gauss-Hermite rule for ``N(0, I_d)``: directions ``(nodes^d, 1, d)`` (each its own group) and
    weights ``(nodes^d,)``; exact for polynomials of degree <= 2 nodes - 1 in each coordinate."""
    pts, wts = np.polynomial.hermite_e.hermegauss(nodes)
    wts = wts / wts.sum()
    grid = torch.tensor(list(itertools.product(pts, repeat=d)), dtype=torch.float64)
    weight = torch.tensor([math.prod(w) for w in itertools.product(wts, repeat=d)], dtype=torch.float64)
    return grid[:, None, :], weight


@pytest.mark.parametrize(("backend", "axes"), [(b, AXES) for b in ("taylor", "autograd")] + [
    (b, AXES[:2]) for b in ("batched_grad", "func", "functional", "auto")])  # fmt: skip
def test_general_operator_estimate_is_unbiased_exactly_by_gauss_hermite_quadrature(backend, axes):
    """Any operator of orders 1..4 (mixed terms, odd orders): each direction's estimate is a polynomial of degree
    <= 8 in v, so the 5-node Gauss-Hermite rule in every coordinate gives its expectation exactly; it equals the
    exact operator to 1e-12."""
    d = len(axes)
    op = GENERAL if d == 3 else "u_xy+0.5*u_xxyy+-2.0*u_y+0.3*u_xxx+0.7*u_xx"
    net, x = _net(d), _x(5, d)
    dirs, weight = _gauss_hermite(d)
    got = get_backend(backend)(net, x, ("~" + op,), directions=dirs)
    assert got.groups == len(weight)
    est = sum(w * got.group(k)["~" + op] for k, w in enumerate(weight.tolist()))
    ref = Autograd()(net, x, (op,))[op]
    assert ref.abs().max() > 0.1
    torch.testing.assert_close(est, ref, rtol=0, atol=1e-12)


def test_general_operator_estimate_from_seeded_draws_and_its_gradient():
    """20000 seeded Gaussian directions: the mean within 5 standard errors of the exact operator at every point;
    taylor and nested reverse passes agree direction by direction, and the estimate keeps the graph."""
    net, x = _net(), _x(4)
    n = 20000
    v = draw(torch.Generator().manual_seed(5), "gaussian", n, 1, (0, 1, 2), 3, torch.float64)
    per = Taylor()(net, x, ("~" + GENERAL,), directions=v)._entries[("est", "~" + GENERAL)].detach()  # (N, n)
    ref = Autograd()(net, x, (GENERAL,))[GENERAL].detach()
    assert ((per.mean(-1) - ref).abs() < 5 * per.std(-1) / math.sqrt(n)).all()
    few = v[:6].reshape(2, 3, 3)
    a, b = Taylor()(net, x, ("~" + GENERAL,), directions=few), Autograd()(net, x, ("~" + GENERAL,), directions=few)
    for k in (0, 1):
        torch.testing.assert_close(a.group(k)["~" + GENERAL], b.group(k)["~" + GENERAL], rtol=1e-12, atol=1e-12)
    grads = []
    for got in (a, b):
        net.zero_grad()
        got["~" + GENERAL].square().mean().backward(retain_graph=True)
        grads.append([p.grad.clone() for p in net.parameters() if p.dim() == 2])  # (the output bias drops out)
    assert all(g.abs().sum() > 0 for g in grads[0])
    for g0, g1 in zip(*grads, strict=True):
        torch.testing.assert_close(g0, g1, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["rademacher", "gaussian"])
def test_single_direction_variance_matches_the_formula(kind):
    """One direction's estimate vᵀHv has variance 2 Σ_(i≠j) H_ij² (Rademacher) or 2 ‖H‖_F² (Gaussian): 10000
    seeded draws, each direction its own group, agree within 5% (Rademacher) or 10% (Gaussian: heavier tails, a
    sample variance's relative standard error of ~5% here)."""
    net, x = _net(), _x(3)
    n = 10000
    v = draw(torch.Generator().manual_seed(0), kind, n, 1, (0, 1, 2), 3, torch.float64)
    per = Taylor()(net, x, ("~" + LAP,), directions=v)._entries[("est", "~" + LAP)].detach()  # (N, n)
    hess = Autograd()(net, x, None).hess[:, 0].detach()  # (N, 3, 3)
    off = hess.square().sum((-1, -2)) - torch.diagonal(hess, dim1=-2, dim2=-1).square().sum(-1)
    expect = 2 * (off if kind == "rademacher" else hess.square().sum((-1, -2)))
    torch.testing.assert_close(per.var(-1), expect, rtol=0.05 if kind == "rademacher" else 0.1, atol=0)
    trace = torch.diagonal(hess, dim1=-2, dim2=-1).sum(-1)
    assert ((per.mean(-1) - trace).abs() < 4 * (expect / n).sqrt()).all()  # unbiased, within 4 std. errors


def test_taylor_and_hvp_agree_direction_by_direction_with_groups():
    net, x = _net(), _x(5)
    v = draw(torch.Generator().manual_seed(2), "gaussian", 2, 3, (0, 2), 3, torch.float64)
    assert (v[..., 1] == 0).all()  # off the support
    needs = ("~u_xx+u_zz", "u_x")
    a, b = Taylor()(net, x, needs, directions=v), Autograd()(net, x, needs, directions=v)
    assert a.groups == b.groups == 2
    for k in (0, 1):
        torch.testing.assert_close(a.group(k)["~u_xx+u_zz"], b.group(k)["~u_xx+u_zz"], rtol=0, atol=1e-12)
    torch.testing.assert_close(a["~u_xx+u_zz"], (a.group(0)["~u_xx+u_zz"] + a.group(1)["~u_xx+u_zz"]) / 2)
    torch.testing.assert_close(a["u_x"], b["u_x"], rtol=0, atol=1e-12)
    # fourth order, per direction: taylor's jets against four nested reverse passes, looped or batched
    ref = Taylor()(net, x, ("~" + BIH, "~" + LAP), directions=v)
    for backend in (Autograd(), BatchedGrad()):
        got = backend(net, x, ("~" + BIH, "~" + LAP), directions=v)
        for n in ("~" + BIH, "~" + LAP):
            for k in (0, 1):
                torch.testing.assert_close(got.group(k)[n], ref.group(k)[n], rtol=1e-12, atol=1e-12)


def test_the_estimate_keeps_the_graph_and_its_gradient_matches_autograd():
    net, x = _net(), _x(8)
    v = draw(torch.Generator().manual_seed(3), "rademacher", 1, 4, (0, 1, 2), 3, torch.float64)
    grads = []
    for backend in (Taylor(), Autograd()):
        net.zero_grad()
        backend(net, x, ("~" + LAP,), directions=v)["~" + LAP].square().mean().backward()
        grads.append(
            torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).flatten() for p in net.parameters()])
        )
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-12)


def test_the_spec_carries_one_collapsed_channel_per_group_whatever_d():
    from pinnkit.derivatives.taylor import spec_for

    axes = tuple(f"x{i}" for i in range(50))
    req = make_request(("~" + laplacian("u", axes),), ("u",), axes)
    spec = spec_for(req, 50, (2, 8))
    assert spec.size == 1 + 16 + 2  # value, 16 directions, one collapsed channel per group
    assert exact_request(req).sums and not exact_request(req).estimates


def test_directions_are_reproducible_from_seed_and_step():
    est = Estimator(samples=8, directions="rademacher", unbiased=True)
    a = est.draw_at(3, 17, (0, 1), 4, torch.float64, torch.device("cpu"))
    assert a.shape == (2, 4, 4) and (a[..., 2:] == 0).all() and set(a[..., :2].unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(a, est.draw_at(3, 17, (0, 1), 4, torch.float64, torch.device("cpu")))
    assert not torch.equal(a, est.draw_at(3, 18, (0, 1), 4, torch.float64, torch.device("cpu")))
    assert not torch.equal(a, est.draw_at(4, 17, (0, 1), 4, torch.float64, torch.device("cpu")))


def test_bad_requests_and_settings_are_refused_clearly():
    net, x = _net(), _x()
    with pytest.raises(ValueError, match="take random directions: call with directions="):
        Taylor()(net, x, ("~" + LAP,))
    for bad in ("~u_xx", "~u_xxxxx+u_y"):  # one derivative alone; a fifth order
        with pytest.raises(KeyError, match="orders 1 to 4"):
            Taylor()(net, x, (bad,), directions=torch.ones(1, 1, 3))
    with pytest.raises(KeyError, match="must share their axes"):
        make_request(("~u_xx+u_yy", "~u_xx+u_zz"), ("u",), AXES)
    with pytest.raises(ValueError, match=r"\(groups, per_group, d=3\)"):
        Taylor()(net, x, ("~" + LAP,), directions=torch.ones(4, 3))
    with pytest.raises(ValueError, match=r"rademacher.*gaussian"):
        Estimator(samples=4, directions="sobol")
    with pytest.raises(ValueError, match="even and >= 2 with unbiased"):
        Estimator(samples=3, unbiased=True)
    for need in (BIH, GENERAL):
        with pytest.raises(ValueError, match="gaussian directions only"):
            Estimator(samples=4).check(make_request(("~" + need,), ("u",), AXES).estimates)
    # asked for without directions where the sum is computed exactly instead, the '~' name reads the exact value
    exact = Autograd()(net, x, (LAP,))
    assert torch.equal(exact["~" + LAP], exact[LAP])
