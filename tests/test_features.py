"""Training features as config choices: samplers, adaptive resampling, grad-norm balancing, causal weighting,
hard constraints and non-box geometry, each in a short run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pinnkit.build import build
from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_train import SHORT, read_metrics


def _keys(run_dir) -> set[str]:
    return set().union(*(row.keys() for row in read_metrics(run_dir)))


@pytest.mark.parametrize("sampler", ["sobol", "lhs"])
def test_quasi_random_samplers_train(tmp_path, sampler):
    summary = train(compose_cfg(tmp_path, f"data.sampler={sampler}", *SHORT))
    assert math.isfinite(summary["val/l2_rel"])


def test_adaptive_resampling_moves_points_to_large_residuals(tmp_path):
    cfg = compose_cfg(tmp_path, "data.adaptive.pool=8", "data.resample_every=2", "data.adaptive.k=2",
                      "data.adaptive.c=0", *SHORT)  # fmt: skip
    module = build(cfg)
    term = module.terms[0]
    plain = build(compose_cfg(tmp_path, *SHORT))
    plain.load_state_dict(module.state_dict())  # the same network, uniform points
    with torch.enable_grad():
        r_adaptive = module.score(term, module.sample(1).points[term.name]).square().mean()
        r_uniform = plain.score(term, plain.sample(1).points[term.name]).square().mean()
    assert r_adaptive > 1.5 * r_uniform  # RAD picks points where the residual is large
    assert train(cfg)["steps"] == 4


def test_grad_norm_balancing_logs_and_checkpoints_its_weights(tmp_path):
    summary = train(compose_cfg(tmp_path, "pde.hard=false", "balance.every=2", *SHORT))
    assert {"train/weight_pde", "train/weight_ic", "train/weight_bc"} <= _keys(tmp_path)
    weights = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]["balance_weights"]
    assert weights.shape == (3,) and not torch.allclose(weights, torch.ones(3))  # updated, and saved for resuming
    w_logged = float(summary["train/weight_pde"])
    assert math.isfinite(w_logged) and w_logged > 0


def test_causal_weighting_logs_its_last_weight_and_refuses_steady_pdes(tmp_path):
    train(compose_cfg(tmp_path, "causal.chunks=4", "causal.eps=10", *SHORT))
    rows = [r for r in read_metrics(tmp_path) if r.get("train/causal_weight_min")]
    assert rows and all(0 < float(r["train/causal_weight_min"]) <= 1 for r in rows)
    with pytest.raises(ValueError, match="causal weighting needs a time-dependent PDE"):
        build(compose_cfg(tmp_path, "pde=poisson", "causal.chunks=4"))
    with pytest.raises(ValueError, match=r"balance has unknown keys \['evry'\]; valid: \['alpha', 'every'\]"):
        build(compose_cfg(tmp_path, "+balance.evry=3"))


@pytest.mark.parametrize("pde", ["heat", "burgers", "poisson"])
def test_hard_constraints_drop_the_enforced_terms(tmp_path, pde):
    summary = train(compose_cfg(tmp_path, f"pde={pde}", "pde.hard=true", "derivative=taylor", *SHORT))
    keys = _keys(tmp_path)
    assert "train/loss_pde" in keys and not {"train/loss_ic", "train/loss_bc"} & keys
    assert math.isfinite(summary["val/l2_rel"])


@pytest.mark.parametrize("geometry", ["lshape", "disk"])
def test_poisson_on_a_non_box_domain_writes_a_masked_solution(tmp_path, geometry):
    train(compose_cfg(tmp_path, "pde=poisson", f"pde.geometry={geometry}", "pde.n=41", *SHORT))
    sol = np.load(tmp_path / "solution.npz")
    assert sol["u_pred"].shape == sol["u_ref"].shape == (41, 41)
    outside = np.isnan(sol["u_ref"])
    assert 0.1 < outside.mean() < 0.3 and (np.isnan(sol["u_pred"]) == outside).all()  # L: 1/4, disk: 1 - π/4
    assert np.isfinite(sol["l2_rel"]) and np.isfinite(sol["linf"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert math.isclose(summary["val/l2_rel"], float(sol["l2_rel"]), rel_tol=1e-3)


@pytest.mark.parametrize("pde", ["heat", "schrodinger", "vector3d", "burgers_inverse", "kdv"])
@pytest.mark.parametrize("derivative", ["autograd", "taylor"])
def test_fused_terms_give_the_same_losses_as_one_call_per_term(tmp_path, pde, derivative):
    """One backend call over all terms' points (union of needs), split back, equals one call per term."""
    over = [f"pde={pde}", f"derivative={derivative}", "trainer.precision=64", *SHORT]
    over += ["pde.hard=false"] if pde == "heat" else []
    fused, plain = build(compose_cfg(tmp_path, *over)), build(compose_cfg(tmp_path, *over, "fuse_terms=false"))
    plain.load_state_dict(fused.state_dict())
    pts = fused.sample(0)
    a, b = fused.losses(pts)[1], plain.losses(pts)[1]
    assert list(a) == list(b) and len(a) > 1
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-12, atol=0)


def count_backend_calls(monkeypatch, module) -> list[int]:
    """The point count of every backend call ``module`` makes from now on (until monkeypatch undoes it)."""
    calls = []
    real = type(module.derivative).evaluate  # every call with derivatives goes through it

    def counting(self, f, x, req, directions):
        calls.append(x.shape[0])
        return real(self, f, x, req, directions)

    monkeypatch.setattr(type(module.derivative), "evaluate", counting)
    return calls


def test_fused_terms_make_one_backend_call_per_step(tmp_path, monkeypatch):
    module = build(compose_cfg(tmp_path, "pde.hard=false", *SHORT))
    calls = count_backend_calls(monkeypatch, module)
    batch = module.sample(0)
    module.losses(batch)
    assert calls == [sum(p.shape[0] for p in batch.points.values())]  # interior + initial + boundary in one call


@pytest.mark.parametrize("derivative", ["autograd", "taylor"])
def test_residual_everywhere_adds_the_edge_points_to_the_interior_residual_once(tmp_path, monkeypatch, derivative):
    """``data.residual_everywhere``: the interior residual also at the initial and boundary points (DeepXDE's
    residual set), its mean over all of them; the fused call still evaluates each point once, and it agrees with
    one call per term."""
    over = ["pde=burgers", "pde.hard=false", f"derivative={derivative}", "trainer.precision=64", *SHORT]
    every = build(compose_cfg(tmp_path, *over, "data.residual_everywhere=true"))
    plain = build(compose_cfg(tmp_path, *over))
    unfused = build(compose_cfg(tmp_path, *over, "data.residual_everywhere=true", "fuse_terms=false"))
    plain.load_state_dict(every.state_dict())
    unfused.load_state_dict(every.state_dict())
    batch, own_batch = every.sample(0), plain.sample(0)
    pts, own = batch.points, own_batch.points
    assert torch.equal(pts["pde"], torch.cat([own["pde"], own["ic"], own["bc"]]))
    assert torch.equal(pts["ic"], own["ic"]) and torch.equal(pts["bc"], own["bc"])
    with monkeypatch.context() as patch:
        calls = count_backend_calls(patch, every)
        losses = every.losses(batch)[1]
    assert calls == [sum(p.shape[0] for p in own.values())]  # no point evaluated twice
    pde = plain.terms[0]
    with torch.enable_grad():
        expect = plain.score(pde, pts["pde"]).square().mean()
    torch.testing.assert_close(losses["pde"], expect, rtol=1e-12, atol=0)
    for name, value in unfused.losses(unfused.plan.layout(pts))[1].items():
        torch.testing.assert_close(losses[name], value, rtol=1e-12, atol=0)
    assert every.losses(batch)[1]["ic"] == plain.losses(own_batch)[1]["ic"]


def test_residual_everywhere_needs_one_interior_term(tmp_path, monkeypatch):
    from pinnkit.pdes import Burgers

    terms = Burgers.terms
    monkeypatch.setattr(Burgers, "terms", lambda self: [*terms(self), terms(self)[0]])
    with pytest.raises(ValueError, match=r"residual_everywhere needs exactly one interior term; burgers has "):
        build(compose_cfg(tmp_path, "pde=burgers", "pde.hard=false", "data.residual_everywhere=true"))
