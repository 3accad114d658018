"""Time-marching windows: a periodic initial profile (exact interpolant, jets equal to autograd through it), a
Kuramoto–Sivashinsky window from a later start, warm starts, and a march end to end (initial conditions handed on,
the stitched error, resume)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pinnkit.derivatives import Autograd, Taylor
from pinnkit.marching import SAMPLES
from pinnkit.nets import MLP
from pinnkit.nets.constrained import TENSOR_OPS, Constrained
from pinnkit.pdes import KuramotoSivashinsky
from pinnkit.pdes.profile import PeriodicProfile, PeriodicProfileError, periodic_grid, save_profile
from pinnkit.predict import load
from pinnkit.train import run, train
from tests.conftest import compose_cfg


def band_limited(x):
    return 0.3 + np.sin(np.pi * x) - 0.5 * np.cos(3 * np.pi * x) + 0.2 * np.sin(7 * np.pi * x + 0.4)


def test_periodic_profile_reproduces_a_band_limited_profile_exactly_and_refuses_bad_files(tmp_path):
    x = periodic_grid(-1.0, 1.0, 64)
    path = tmp_path / "u0.npz"
    save_profile(path, x, band_limited(x))
    prof = PeriodicProfile.read(path, -1.0, 1.0, modes=8)
    xs = torch.linspace(-1, 1, 101, dtype=torch.float64)
    got = prof(xs[:, None], TENSOR_OPS)[:, 0]
    torch.testing.assert_close(got, torch.as_tensor(band_limited(xs.numpy())), rtol=0, atol=1e-13)
    # fewer modes than the profile holds: its mode 7 is dropped, exactly
    low = PeriodicProfile.read(path, -1.0, 1.0, modes=6)(xs[:, None], TENSOR_OPS)[:, 0]
    torch.testing.assert_close(got - low, 0.2 * torch.sin(7 * math.pi * xs + 0.4), rtol=0, atol=1e-13)
    with pytest.raises(PeriodicProfileError, match=r"modes must be in \[1, n/2\) for n = 64"):
        PeriodicProfile.read(path, -1.0, 1.0, modes=32)
    save_profile(tmp_path / "closed.npz", np.linspace(-1, 1, 64), band_limited(np.linspace(-1, 1, 64)))
    with pytest.raises(PeriodicProfileError, match=r"x must be the uniform periodic grid"):
        PeriodicProfile.read(tmp_path / "closed.npz", -1.0, 1.0, modes=8)  # both ends: not a periodic grid
    with pytest.raises(PeriodicProfileError, match=r"needs an .npz with arrays 'x' and 'u'"):
        PeriodicProfile.read(tmp_path / "missing.npz", -1.0, 1.0, modes=8)


def ks_window(tmp_path, hard: bool, t_start: float = 0.2) -> KuramotoSivashinsky:
    """A KS window from ``t_start`` whose initial profile is the reference there."""
    x = periodic_grid(-1.0, 1.0, 256)
    ref = KuramotoSivashinsky().exact(torch.as_tensor(np.stack([np.full_like(x, t_start), x], -1)))[:, 0]
    save_profile(tmp_path / "u0.npz", x, ref.numpy())
    return KuramotoSivashinsky(t_start=t_start, t_end=t_start + 0.1, initial=str(tmp_path / "u0.npz"), hard=hard)


def test_a_later_window_starts_from_its_profile_hard_or_soft_and_taylor_matches_autograd_through_it(tmp_path):
    pde = ks_window(tmp_path, hard=True).double()
    assert pde.domain.lower[0] == 0.2 and len(pde.grid()[0]["t"]) == 26  # the reference's saved times, 0.2..0.3
    torch.manual_seed(0)
    net = Constrained(MLP(2, 1, 16, 2, "tanh", True, pde.domain.lower, pde.domain.upper), pde.ansatz).double()
    gen = torch.Generator().manual_seed(0)
    start = pde.domain.sample("initial", 64, gen, torch.float64)
    assert (start[:, 0] == 0.2).all()
    # hard: u(t_start, x) is the reference there for any weights (32 modes of it: the rest is below 1e-15)
    torch.testing.assert_close(net(start), pde.exact(start), rtol=0, atol=1e-12)
    # soft: the ic term's residual vanishes on the reference
    soft = ks_window(tmp_path, hard=False).double()
    (ic,) = [t for t in soft.terms() if t.name == "ic"]
    d = Autograd()(soft.exact, start, ("u",), axes=soft.axes, fields=soft.fields)
    assert ic.residual(d, start).abs().max() < 1e-12
    x = pde.domain.sample("interior", 12, gen, torch.float64)
    needs = ("u", "u_t", "u_x", "u_xx", "u_xxx", "u_xxxx", "u_txx")
    ref = Autograd()(net, x, needs, axes=pde.axes, fields=pde.fields)
    got = Taylor()(net, x, needs, axes=pde.axes, fields=pde.fields)
    for n in needs:  # the Fourier modes' derivatives grow like (32π)^k: relative to each entry's size
        assert (got[n] - ref[n]).abs().max() <= 1e-10 * ref[n].abs().max(), n


def test_init_weights_starts_a_fresh_run_from_a_checkpoints_weights_and_refuses_one_that_does_not_fit(tmp_path):
    common = ("pde=heat", "model.width=8", "trainer.max_steps=3", "trainer.enable_progress_bar=false")
    first = train(compose_cfg(tmp_path / "a", *common, "optim=adam"))
    ckpt = torch.load(first["last_checkpoint"], weights_only=True)["state_dict"]
    cfg = compose_cfg(tmp_path / "b", *common, "optim=adam", f"init_weights={first['last_checkpoint']}")
    from pinnkit.build import build
    from pinnkit.resume import start_from

    module = build(cfg)
    start_from(module, first["last_checkpoint"])
    for k, v in module.state_dict().items():
        torch.testing.assert_close(v, ckpt[k], rtol=0, atol=0)
    second = train(cfg)  # and a run with init_weights trains on from them
    assert second["steps"] == 3
    wide = compose_cfg(tmp_path / "c", *common, "model.width=9", f"init_weights={first['last_checkpoint']}")
    with pytest.raises(Exception, match=r"does not fit this run's network"):
        train(wide)


MARCH = ("pde=kuramoto_sivashinsky", "pde.hard=true", "model.periodic={x:2.0}", "pde.t_end=0.2", "pde.nt=21",
         "pde.nx=64", "model.width=12", "model.depth=2", "optim=adam", "derivative=taylor", "trainer.max_steps=20",
         "trainer.enable_progress_bar=false", "data.points.interior=256", "march.windows=2")  # fmt: skip


def test_a_march_hands_each_window_its_predecessors_end_and_stitches_the_error(tmp_path):
    cfg = compose_cfg(tmp_path, *MARCH, "march.warm_start=true")
    objective = run(cfg)
    result = json.loads((tmp_path / "march.json").read_text())
    assert result["edges"] == [0.0, 0.1, 0.2] and objective == result["l2_rel"]
    whole = json.loads((tmp_path / "summary.json").read_text())  # the march's directory reads as a run's
    assert whole["val/l2_rel"] == objective and whole["steps"] == 40 and whole["config"]["march"]["windows"] == 2
    first = load(tmp_path / "window_0" / "checkpoints" / "last.ckpt")
    second = load(tmp_path / "window_1" / "checkpoints" / "last.ckpt")
    assert second.pde.domain.lower[0] == 0.1 and second.pde.initial is not None
    started = json.loads((tmp_path / "window_1" / "summary.json").read_text())["config"]["init_weights"]
    assert started == str(tmp_path / "window_0" / "checkpoints" / "last.ckpt")  # warm start: window 0's weights
    with np.load(tmp_path / "initial_1.npz") as f:  # window 0's net at t = 0.1 on the periodic grid
        x, u = f["x"], f["u"]
    assert len(x) == SAMPLES
    pts = torch.as_tensor(np.stack([np.full_like(x, 0.1), x], -1), dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(torch.as_tensor(u, dtype=torch.float32), first.net(pts)[:, 0], rtol=0, atol=1e-6)
        # window 1 starts where window 0 ended (its 32 modes: the small net's profile is smooth)
        torch.testing.assert_close(second.net(pts[::16]), first.net(pts[::16]), rtol=0, atol=1e-5)
    # the stitched error: both windows' grid solutions, t = 0.1 counted once
    with np.load(tmp_path / "window_0" / "solution.npz") as a, np.load(tmp_path / "window_1" / "solution.npz") as b:
        pred = np.concatenate([a["u_pred"], b["u_pred"][1:]]).astype(np.float64)
        ref = np.concatenate([a["u_ref"], b["u_ref"][1:]]).astype(np.float64)
        err = pred - ref
        assert b["t"][0] == a["t"][-1] == pytest.approx(0.1)
        assert result["l2_rel_until"][0]["l2_rel"] == pytest.approx(float(a["l2_rel"]), rel=1e-6)
    assert result["l2_rel"] == pytest.approx(float(np.sqrt((err**2).sum() / (ref**2).sum())), rel=1e-9)
    with np.load(tmp_path / "solution.npz") as f:  # the stitched grid: pde.nt=21 is a time every 0.05
        assert f["u_pred"].shape == (5, 64) and np.allclose(f["t"], np.linspace(0, 0.2, 5))
        np.testing.assert_array_equal(f["u_pred"], pred)
        assert float(f["l2_rel"]) == pytest.approx(objective, rel=1e-12)
    # a rerun keeps the finished windows: nothing retrains, the same result
    stamps = [(tmp_path / f"window_{k}" / "summary.json").stat().st_mtime_ns for k in (0, 1)]
    assert run(cfg) == objective
    assert stamps == [(tmp_path / f"window_{k}" / "summary.json").stat().st_mtime_ns for k in (0, 1)]
    # a rerun with other settings is refused naming them, before anything trains
    cfg.model.width = 13
    stale = r"finished window trained with other settings \(model.width: 12 \(finished window\) -> 13 \(this march\)\)"
    with pytest.raises(ValueError, match=stale):
        run(cfg)
    # overwrite=true trains every window afresh (not resumed from the earlier run's checkpoints)
    cfg.overwrite = True
    run(cfg)
    again = [json.loads((tmp_path / f"window_{k}" / "summary.json").read_text()) for k in (0, 1)]
    assert [s["steps"] for s in again] == [20, 20]
    assert stamps[0] != (tmp_path / "window_0" / "summary.json").stat().st_mtime_ns


def test_a_march_is_refused_for_a_pde_without_windows_and_for_a_bad_count(tmp_path):
    with pytest.raises(ValueError, match=r"needs a PDE whose config has \['t_start', 't_end', 'initial'\]"):
        run(compose_cfg(tmp_path, "pde=heat", "march.windows=2"))
    with pytest.raises(ValueError, match=r"march.windows"):
        run(compose_cfg(tmp_path, *MARCH[:-1], "march.windows=-1"))
