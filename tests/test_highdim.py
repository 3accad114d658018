"""High dimensions: ball and sphere samplers, the d-dimensional Poisson problem, training with estimated
Laplacians (backends alike on the same directions, an exact resume, the unbiased option), random validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pinnkit.ball import Ball, ball_points, sphere_points
from pinnkit.derivatives import Autograd, Taylor
from pinnkit.nets import MLP
from pinnkit.nets.constrained import Constrained
from pinnkit.pdes import PoissonHD
from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_runs import _losses

FAST = ["pde=poisson_hd", "pde.d=8", "pde.val_points=256", "pde.n=11", "trainer.enable_progress_bar=false",
        "model.width=16", "model.depth=2", "trainer.log_every_n_steps=1", "data.points.interior=64",
        "data.val_points=64", "trainer.precision=64", "checks=false"]  # fmt: skip


@pytest.mark.parametrize("d", [2, 10, 300])
def test_ball_and_sphere_samplers_are_uniform(d):
    gen = torch.Generator().manual_seed(0)
    x = ball_points(20000, d, gen, torch.float64, torch.device("cpu"))
    r = x.norm(dim=-1)
    assert r.max() <= 1 and abs(r.mean().item() - d / (d + 1)) < 0.01  # E|x| = d/(d+1) for the uniform ball
    assert abs((r <= 0.5 ** (1 / d)).double().mean().item() - 0.5) < 0.02  # P(|x| <= s) = s^d
    s = sphere_points(20000, d, gen, torch.float64, torch.device("cpu"))
    torch.testing.assert_close(s.norm(dim=-1), torch.ones(20000, dtype=torch.float64))
    assert s.mean(0).abs().max() < 4 / 20000**0.5 * 1.5  # no preferred direction
    ball = Ball(("a", "b", "c"), radius=2.0, centre=[1.0, 0.0, -1.0])
    y = ball.sample("boundary", 100, gen, torch.float64)
    torch.testing.assert_close((y - torch.tensor([1.0, 0.0, -1.0])).norm(dim=-1), torch.full((100,), 2.0).double())
    assert ball.contains(ball.sample("interior", 100, gen, torch.float64)).all()
    with pytest.raises(ValueError, match="uniform points only"):
        ball.sample("interior", 10, gen, torch.float64, sampler="sobol")
    with pytest.raises(ValueError, match=r"unknown region 'initial'.*interior"):
        ball.sample("initial", 10, gen, torch.float64)


def test_poisson_in_a_hundred_dimensions_is_solved_by_its_manufactured_solution():
    pde = PoissonHD(d=100).double()
    assert len(pde.axes) == 100 and pde.axes[0] == "x0"
    gen = torch.Generator().manual_seed(0)
    x = pde.domain.sample("interior", 32, gen, torch.float64)
    d = Autograd()(lambda z: pde.exact(z), x, (pde.lap,), axes=pde.axes)  # the closed-form source vs Δ by autograd
    assert pde.terms()[0].residual(d, x).abs().max() < 1e-10 * pde.source(x).abs().max()
    b = pde.domain.sample("boundary", 16, gen, torch.float64)
    assert pde.exact(b).abs().max() < 1e-13
    hard = PoissonHD(d=100, hard=True).double()
    torch.manual_seed(0)
    net = Constrained(MLP(100, 1, 16, 2, "tanh", False).double(), hard.ansatz)
    assert net(b).abs().max() < 1e-13  # zero on the sphere by construction
    ref, got = Autograd()(net, x, (hard.lap,), axes=hard.axes), Taylor()(net, x, (hard.lap,), axes=hard.axes)
    torch.testing.assert_close(got[hard.lap], ref[hard.lap], rtol=1e-10, atol=1e-10)
    coords, mesh = hard.grid()
    assert list(coords) == ["x0", "x1"] and mesh.shape == (101, 101, 100) and (mesh[..., 2:] == 0).all()


def test_backends_train_alike_on_the_same_directions(tmp_path):
    """One run's directions come from (seed, step), whatever the backend: taylor's jets and autograd's
    Hessian-vector products give the same losses step by step (float64)."""
    common = [*FAST, "pde.estimator.samples=4", "trainer.max_steps=6", "trainer.val_check_interval=6"]
    runs = {}
    for name in ("taylor", "autograd"):
        train(compose_cfg(tmp_path / name, *common, f"derivative={name}"))
        runs[name] = _losses(tmp_path / name)
    assert len(runs["taylor"]) == 6
    for step, v in runs["autograd"].items():
        assert abs(v - runs["taylor"][step]) <= 1e-10 * abs(v), step


def test_a_resumed_estimated_run_draws_the_same_directions(tmp_path):
    common = [*FAST, "pde.estimator.samples=4", "pde.estimator.directions=gaussian", "derivative=taylor",
              "trainer.val_check_interval=5"]  # fmt: skip
    train(compose_cfg(tmp_path / "full", *common, "trainer.max_steps=10"))
    train(compose_cfg(tmp_path / "part", *common, "trainer.max_steps=5"))
    ckpt = tmp_path / "part" / "checkpoints" / "last.ckpt"
    train(compose_cfg(tmp_path / "resumed", *common, "trainer.max_steps=10", f"ckpt_path={ckpt}"))
    a, b = _losses(tmp_path / "full"), _losses(tmp_path / "resumed")
    assert set(range(5, 10)) <= set(b)
    for step in range(5, 10):
        assert abs(a[step] - b[step]) <= 1e-12 * abs(a[step]), (step, a[step], b[step])
    exact = _losses(tmp_path / "full")  # and the estimate is not the exact loss: the directions are used
    train(compose_cfg(tmp_path / "exact", *FAST, "derivative=taylor", "trainer.max_steps=2"))
    assert abs(_losses(tmp_path / "exact")[1] - exact[1]) > 1e-6 * abs(exact[1])


def test_the_unbiased_option_trains_and_validates_on_random_points(tmp_path):
    est = ["pde.estimator.samples=4", "pde.estimator.unbiased=true", "derivative=taylor"]
    summary = train(compose_cfg(tmp_path, *FAST, *est, "trainer.max_steps=40", "trainer.val_check_interval=20"))
    assert summary["steps"] == 40
    first, last = _losses(tmp_path)[0], _losses(tmp_path)[39]
    assert last < first  # mean(r1 r2) falls as the residual does
    stats = json.loads((tmp_path / "summary.json").read_text())
    assert 0 < stats["val/l2_rel"] < 1  # on the held-out random points
    sol = np.load(tmp_path / "solution.npz")  # the plane (x0, x1) through the centre
    assert sol["u_pred"].shape == sol["u_ref"].shape == (11, 11) and {"x0", "x1"} <= set(sol.files)
    assert np.isnan(sol["u_pred"][0, 0]) and np.isfinite(sol["u_pred"][5, 5])  # outside / inside the ball


def test_allen_cahn_in_a_hundred_dimensions_in_time():
    from pinnkit.pdes import AllenCahnHD

    pde = AllenCahnHD(d=100).double()
    gen = torch.Generator().manual_seed(0)
    x = pde.domain.sample("interior", 32, gen, torch.float64)
    assert x.shape == (32, 101) and (x[:, 1:].norm(dim=-1) <= 1).all() and x[:, 0].min() >= 0
    term = pde.terms()[0]
    assert [t.name for t in pde.terms()] == ["pde", "ic", "bc"]
    d = Autograd()(pde.exact, x, term.needs, axes=pde.axes)  # the closed-form source vs autograd's Δu and u_t
    assert term.residual(d, x).abs().max() < 1e-10 * pde.source(x).abs().max()
    start, edge = (
        pde.domain.sample("initial", 16, gen, torch.float64),
        pde.domain.sample("boundary", 16, gen, torch.float64),
    )
    assert (start[:, 0] == 0).all() and torch.allclose(edge[:, 1:].norm(dim=-1), torch.ones(16).double())
    hard = AllenCahnHD(d=100, hard=True).double()
    assert [t.name for t in hard.terms()] == ["pde", "ic"]  # the initial condition stays a term
    torch.manual_seed(0)
    net = Constrained(MLP(101, 1, 16, 2, "tanh", False).double(), hard.ansatz)
    assert net(edge.double()).abs().max() < 1e-13  # zero on the sphere at every time
    ref = term.residual(Autograd()(net, x, term.needs, axes=hard.axes), x)
    torch.testing.assert_close(term.residual(Taylor()(net, x, term.needs, axes=hard.axes), x), ref)
    coords, mesh = hard.grid()
    assert list(coords) == ["t", "x0"] and mesh.shape == (51, 51, 101) and (mesh[..., 2:] == 0).all()


def test_allen_cahn_hd_trains_with_an_estimated_laplacian(tmp_path):
    est = ["pde=allen_cahn_hd", "pde.d=8", "pde.val_points=256", "pde.n=11", "pde.estimator.samples=4",
           "derivative=taylor", "data.points.initial=32"]  # fmt: skip
    summary = train(compose_cfg(tmp_path, *FAST[3:], *est, "trainer.max_steps=60", "trainer.val_check_interval=30",
                                "optim.optimizer.lr=1e-2"))  # fmt: skip
    assert summary["steps"] == 60 and 0 < summary["val/l2_rel"] < 1
    losses = _losses(tmp_path)
    assert np.mean([losses[i] for i in range(50, 60)]) < np.mean([losses[i] for i in range(10)])


def test_poisson_floors_show_the_affine_plateau_and_the_rank_bound():
    """The documented floors (docs/high_dimensions.md): at d = 100 the affine fit leaves ~7e-2 (where Adam runs
    stall) and a full-rank quadratic < 1e-2; a rank-16 quadratic lies in between."""
    from experiments.poisson_hd_floors import floors

    rows = dict(floors(100, 3000, [16, 100], seed=1))
    assert 5e-2 < rows["affine"] < 1e-1
    assert rows["affine"] > rows["affine + rank-16 quadratic"] > rows["affine + rank-100 quadratic"]
    assert rows["affine + rank-100 quadratic"] < 1e-2
