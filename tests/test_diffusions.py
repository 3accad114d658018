"""The PDEs of diffusions in high dimensions. HJB/LQG: its Cole–Hopf reference (Monte Carlo against quadrature and
against the full d-dimensional expectation, and a solution of the PDE), the diffusion-cloud points, the exact
terminal condition, and a run. Fokker–Planck of an OU process: points from the density, the exact initial condition,
taylor through the ansatz (its closed form zeroes the residual under every backend: test_pdes)."""

from __future__ import annotations

import math

import pytest
import torch

from pinnkit.ball import DiffusionCloud
from pinnkit.derivatives import Autograd, Taylor
from pinnkit.nets import MLP
from pinnkit.nets.constrained import Constrained
from pinnkit.pdes import HJB, FokkerPlanck
from pinnkit.references.cole_hopf import cole_hopf, quadrature_at_origin, value_at_origin
from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_runs import FAST


def test_the_value_at_the_origin_by_monte_carlo_agrees_with_quadrature():
    value, se = value_at_origin(100, samples=1_000_000)
    exact = quadrature_at_origin(100)
    assert abs(value - exact) <= 4 * se and se <= 2e-4  # 1e6 samples: a standard error of 1.4e-4
    assert abs(exact - 4.5901) < 1e-4  # the value published for d = 100, λ = 1, T = 1, to its 4 decimals
    assert abs(quadrature_at_origin(100, lam=2.0) - value_at_origin(100, lam=2.0, samples=1_000_000)[0]) < 1e-3


def test_the_reduced_monte_carlo_equals_the_full_expectation():
    """``|Z|² = (|x| + σa)² + σ²q``: the same law as sampling ``Z ~ N(x, 2τ I)`` in all d dimensions."""
    gen = torch.Generator().manual_seed(0)
    tx = DiffusionCloud(("t", *(f"x{i}" for i in range(10))), 1.0).sample("interior", 4, gen, torch.float64)
    u, se = cole_hopf(tx, samples=2**18)
    for i in range(4):
        tau, x = 1.0 - tx[i, 0], tx[i, 1:]
        z = x + math.sqrt(2 * tau) * torch.randn(2**18, 10, generator=gen, dtype=torch.float64)
        h = 2 / (1 + z.square().sum(-1))
        full, full_se = -torch.log(h.mean()), h.std() / h.mean() / 2**9
        assert abs(u[i] - full) <= 4 * math.hypot(se[i], full_se), (i, u[i], full)
    at_end = tx.clone()
    at_end[:, 0] = 1.0  # τ = 0: the terminal cost itself, no noise
    torch.testing.assert_close(cole_hopf(at_end)[0], torch.log((1 + at_end[:, 1:].square().sum(-1)) / 2))


def test_the_reference_solves_the_pde_and_a_wrong_one_does_not():
    pde = HJB(d=3).double()
    x = pde.domain.sample("interior", 8, torch.Generator().manual_seed(3), torch.float64)
    x[:, 0] = x[:, 0].clamp(0.1, 0.8)
    (term,) = pde.terms()

    def ref(z, shift=0.0):  # common random numbers: a smooth function of (t, x)
        return cole_hopf(z.reshape(-1, z.shape[-1]), samples=2**20, chunk=8)[0].reshape(*z.shape[:-1], 1) + shift

    d = Autograd()(ref, x, term.needs, axes=pde.axes, fields=pde.fields)
    assert term.residual(d, x).abs().max() < 1e-2 < d[pde.lap].abs().max()  # Monte Carlo error ~3e-3
    d = Autograd()(lambda z: ref(z, 0.1 * z[..., :1]), x, term.needs, axes=pde.axes, fields=pde.fields)
    assert term.residual(d, x).abs().max() > 5e-2


@pytest.mark.parametrize("guess", [False, True])
def test_points_follow_the_diffusion_and_the_terminal_condition_is_exact(guess):
    pde = HJB(d=50, guess=guess).double()
    x = pde.domain.sample("interior", 20000, torch.Generator().manual_seed(0), torch.float64)
    t, xs = x[:, 0], x[:, 1:]
    assert t.min() >= 0 and t.max() <= 1 and abs(t.mean() - 0.5) < 0.01
    ratio = xs.square().mean(-1) / (2 * t)  # E|x|²/d = 2t
    assert abs(ratio.mean() - 1) < 0.01
    torch.manual_seed(0)
    net = Constrained(MLP(51, 1, 16, 2, "tanh", True, pde.domain.lower, pde.domain.upper).double(), pde.ansatz)
    end = x[:64].clone()
    end[:, 0] = 1.0
    torch.testing.assert_close(net(end)[:, 0], torch.log((1 + end[:, 1:].square().sum(-1)) / 2))
    (term,) = pde.terms()
    a = term.residual(Autograd()(net, x[:32], term.needs, axes=pde.axes, fields=pde.fields), x[:32])
    b = term.residual(Taylor()(net, x[:32], term.needs, axes=pde.axes, fields=pde.fields), x[:32])
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_bad_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="terminal condition is imposed exactly"):
        HJB(d=4, hard=False)
    with pytest.raises(ValueError, match="origin_samples >= 1e6"):
        HJB(d=4, origin_samples=1000)
    with pytest.raises(ValueError, match=r"random points only \(data.sampler=uniform\)"):
        HJB(d=4).domain.sample("interior", 4, torch.Generator(), sampler="sobol")


def test_a_short_run_scores_the_origin_and_the_validation_points(tmp_path):
    summary = train(compose_cfg(tmp_path, "pde=hjb", "pde.d=10", "pde.origin_samples=1000000", "pde.val_points=64",
                                "pde.ref_samples=4096", "derivative=taylor", *FAST, "trainer.max_steps=4",
                                "trainer.val_check_interval=2"))  # fmt: skip
    assert summary["steps"] == 4 and math.isfinite(summary["val/l2_rel"]) and math.isfinite(summary["val/u0_rel"])


def test_fokker_planck_points_come_from_the_density_and_the_initial_condition_is_exact():
    pde = FokkerPlanck(d=40).double()
    x = pde.domain.sample("interior", 20000, torch.Generator().manual_seed(0), torch.float64)
    mean, sd = pde.domain.law(x[:, 0])
    z = (x[:, 1:] - mean[:, None]) / sd[:, None]  # standard normal if drawn from the density
    assert abs(z.mean()) < 0.01 and abs(z.square().mean() - 1) < 0.01
    assert abs(float(sd[x[:, 0].argmin()]) - 0.5) < 0.01  # v0 = 0.25 at t = 0
    torch.manual_seed(0)
    net = Constrained(MLP(41, 1, 16, 2, "tanh", True, pde.domain.lower, pde.domain.upper).double(), pde.ansatz)
    start = x[:64].clone()
    start[:, 0] = 0.0
    torch.testing.assert_close(net(start), pde.exact(start), rtol=1e-12, atol=1e-10)
    (term,) = pde.terms()
    a = term.residual(Autograd()(net, x[:32], term.needs, axes=pde.axes, fields=pde.fields), x[:32])
    b = term.residual(Taylor()(net, x[:32], term.needs, axes=pde.axes, fields=pde.fields), x[:32])
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-10)
    soft = FokkerPlanck(d=4, hard=False)
    assert [t.name for t in soft.terms()] == ["pde", "ic"] and soft.domain.regions() == ("interior", "initial")


def test_the_guess_is_jensens_estimate_close_to_the_value_and_the_plain_ansatz_far():
    from pinnkit.nets.constrained import TENSOR_OPS

    x = torch.zeros(1, 101, dtype=torch.float64)
    guess, _ = HJB(d=100, guess=True).ansatz(x, TENSOR_OPS)
    plain, _ = HJB(d=100).ansatz(x, TENSOR_OPS)
    exact = quadrature_at_origin(100)
    assert 0.003 < float(guess) / exact - 1 < 0.005  # ln(201/2) = 4.6102 against 4.5902: 0.44% above it
    assert float(plain) == pytest.approx(math.log(0.5))  # g(0) = ln(1/2): the network carries all of u(0, 0)
