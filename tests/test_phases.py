"""Optimizer phases with a quasi-Newton second phase: points resampled every K iterations (curvature kept or
reset), steps counted in trainer.max_steps, a bit-for-bit resume in float64 from a weights_only checkpoint, and
residual-based attention (multipliers reproducible, reset per point set, checkpointed, refused where they cannot
work)."""

from __future__ import annotations

import csv

import pytest
import torch

from pinnkit.train import train
from pinnkit.weighting import ResidualAttention
from tests.conftest import compose_cfg

FAST = ["pde=burgers", "pde.hard=true", "pde.periodic=true", "+model.periodic={x: 2.0}", "model.width=8",
        "model.depth=2", "data.points.interior=64", "data.points.periodic=1", "data.val_points=64",
        "trainer.precision=64", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1",
        "logger=csv", "derivative=taylor"]  # fmt: skip
QN = ["optim=adam_ssbroyden", "optim.second_from=6", "optim.resample_every=4", "data.resample_every=3",
      "trainer.val_check_interval=8"]  # fmt: skip


def _losses(run_dir) -> dict[int, float]:
    (path,) = run_dir.glob("csv/*/metrics.csv")
    with open(path) as f:
        return {int(r["step"]): float(r["train/loss"]) for r in csv.DictReader(f) if r.get("train/loss")}


def test_the_second_phase_draws_a_new_point_set_every_k_steps_past_the_first_phases_keys(tmp_path):
    from pinnkit.build import build

    module = build(compose_cfg(tmp_path, *FAST, *QN))
    keys = [module.plan.key(s) for s in range(16)]
    assert keys == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4]  # phase 1 every 3; from step 6 every 4


@pytest.mark.parametrize("keep", [True, False])
def test_ssbroyden_counts_its_iterations_in_max_steps_and_is_told_of_each_new_point_set(tmp_path, keep, monkeypatch):
    from pinnkit.optim import SSBroyden

    calls = []
    orig = SSBroyden.objective_changed
    monkeypatch.setattr(SSBroyden, "objective_changed", lambda self, k=True: (calls.append(k), orig(self, k)))
    summary = train(compose_cfg(tmp_path, *FAST, *QN, "trainer.max_steps=16", f"optim.keep_curvature={keep}"))
    assert summary["steps"] == 16 and summary["stopped"] is None
    assert calls == [keep, keep]  # new point sets at steps 10 and 14
    losses = _losses(tmp_path)
    assert set(range(16)) <= set(losses) and losses[15] < losses[0]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One uninterrupted quasi-Newton run with attention, 20 steps: what the resumed runs must reproduce."""
    full = tmp_path_factory.mktemp("full")
    train(compose_cfg(full, *FAST, *QN, "attention.eta=0.01", "trainer.max_steps=20"))
    return full


@pytest.mark.parametrize("stop", [4, 12])  # mid point set: of Adam with attention; of SSBroyden (H and cache saved)
def test_a_quasi_newton_run_with_attention_resumes_bit_for_bit(tmp_path, full_run, stop):
    common = [*FAST, *QN, "attention.eta=0.01"]
    part = tmp_path / "part"
    train(compose_cfg(part, *common, f"trainer.max_steps={stop}"))
    ckpt = torch.load(part / "checkpoints" / "last.ckpt", weights_only=True)
    assert "attention_pde" in ckpt["state_dict"]
    if stop > 6:
        state = ckpt["optimizer_states"][1]["state"][0]
        assert state["H"].shape[0] == state["g"].shape[0]
    resumed = tmp_path / "resumed"
    train(compose_cfg(resumed, *common, "trainer.max_steps=20", f"ckpt_path={part}/checkpoints/last.ckpt"))
    a, b = _losses(full_run), _losses(resumed)
    assert all(a[s] == b[s] for s in range(stop, 20)), [(s, a[s], b[s]) for s in range(stop, 20)]
    fa = torch.load(full_run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    fb = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(fa[k], fb[k]) for k in fa)


def test_attention_follows_its_formula_and_stays_bounded():
    lam = torch.ones(4, dtype=torch.float64)
    r = torch.tensor([0.0, 1.0, -2.0, 4.0], dtype=torch.float64)
    linear = ResidualAttention(eta=0.1, gamma=0.9)
    torch.testing.assert_close(linear.update(lam, r, torch.tensor(0.0)), 0.9 + 0.1 * r.abs() / 4)
    exp = ResidualAttention(eta=0.1, gamma=0.9, potential="exponential", c=2.0)
    step = torch.tensor(8.0, dtype=torch.float64)
    expected = 0.9 + 0.1 * torch.exp(torch.log(step + 2) / 2 * (r.abs() / 4 - 1))
    torch.testing.assert_close(exp.update(lam, r, step), expected)
    for _ in range(2000):
        lam = linear.update(lam, r, step)
    assert float(lam.max()) <= 0.1 / (1 - 0.9) + 1e-12
    with pytest.raises(ValueError, match="potential in"):
        ResidualAttention(eta=0.1, potential="cubic")


def test_attention_multipliers_move_restart_on_each_new_point_set_and_are_reproducible(tmp_path):
    from pinnkit.build import build

    torch.manual_seed(0)
    module = build(compose_cfg(tmp_path, *FAST, "attention.eta=0.05", "data.resample_every=3"))
    seen = []
    for step in range(5):
        lam, step_t = module.attention_multipliers(step)
        _, _, _, moved = module.loss_fn(module.net, module.batch_points(step), module.balance_weights, lam, step_t)
        module.attention_pde.copy_(moved["pde"])
        seen.append(module.attention_pde.clone())
    assert not torch.equal(seen[0], torch.ones_like(seen[0]))
    assert torch.equal(module.attention_multipliers(6)[0]["pde"], torch.ones_like(seen[0]))  # step 6: a new set
    torch.manual_seed(0)
    again = build(compose_cfg(tmp_path / "again", *FAST, "attention.eta=0.05", "data.resample_every=3"))
    lam, step_t = again.attention_multipliers(0)
    moved = again.loss_fn(again.net, again.batch_points(0), again.balance_weights, lam, step_t)[3]
    assert torch.equal(moved["pde"], seen[0])


def test_attention_is_refused_where_it_cannot_work(tmp_path):
    from pinnkit.build import build
    from pinnkit.training.startup import check_methods

    with pytest.raises(ValueError, match=r"data\.resample_every to K > 1"):
        build(compose_cfg(tmp_path, "attention.eta=0.01", "data.resample_every=1"))
    module = build(compose_cfg(tmp_path, "attention.eta=0.01", "data.resample_every=100"))
    with pytest.raises(ValueError, match="not gathered over the 2 DDP ranks"):
        check_methods(module.phases, module.loss_fn, world_size=2)


@pytest.mark.parametrize("optim", ["adam_ssbfgs", "soap", "soap_ssbroyden"])  # the others train in other tests
def test_every_optimizer_choice_trains_through_both_phases(tmp_path, optim):
    second = [] if optim == "soap" else ["optim.second_from=3"]
    summary = train(compose_cfg(tmp_path, *FAST, f"optim={optim}", *second, "trainer.max_steps=6",
                                "trainer.val_check_interval=6", "data.resample_every=0"))  # fmt: skip
    assert summary["steps"] == 6 and summary["stopped"] is None and summary["val/l2_rel"] < 2.0
