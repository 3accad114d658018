"""ENGD (energy natural gradient / Gauss-Newton on per-point residuals): its Jacobian against autograd's, the exact
step on a linear least-squares problem, both solve spaces, the residual blocks of a PINN loss, a short training run,
and the clear refusals (backends that cannot run under torch.func, causal weighting, DDP)."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from pinnkit.optim import ENGD, Residuals
from tests.conftest import compose_cfg


def _tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).double()


def _block(net: torch.nn.Module, x: torch.Tensor, scale=1.0) -> Residuals:
    names = [n for n, _ in net.named_parameters()]

    def fn(params, xi):  # a nonlinear residual of the output and the point
        u = functional_call(net, dict(zip(names, params, strict=True)), (xi,))
        return u * u - xi.sum()

    return Residuals(fn, x, scale)


def test_the_per_point_jacobian_equals_autograds():
    net = _tiny_net()
    x = torch.rand(7, 2, dtype=torch.float64)
    scale = torch.linspace(0.5, 2.0, 7, dtype=torch.float64)
    block = _block(net, x, scale)
    params = tuple(p.detach() for p in net.parameters())
    J = block.jacobian(params)

    def batched(*ps):
        return block.values(ps)

    ref = torch.cat([j.reshape(7, -1) for j in torch.autograd.functional.jacobian(batched, params)], dim=1)
    assert J.shape == (7, sum(p.numel() for p in params))
    torch.testing.assert_close(J, ref, rtol=1e-12, atol=1e-14)


def test_one_undamped_step_reaches_the_least_squares_minimizer():
    torch.manual_seed(1)
    A, b = torch.randn(40, 6, dtype=torch.float64), torch.randn(40, dtype=torch.float64)
    w = torch.nn.Parameter(torch.randn(6, dtype=torch.float64))
    opt = ENGD([w], damping=0.0)
    rows = torch.cat([A, b[:, None]], dim=1)
    opt.step(lambda: [Residuals(lambda p, r: p[0] @ r[:6] - r[6], rows)])
    torch.testing.assert_close(w.detach(), torch.linalg.lstsq(A, b).solution, rtol=0, atol=1e-12)
    assert opt.state[w]["last_eta"] == 1.0


@pytest.mark.parametrize("points", [3, 40])  # N < P: Woodbury in sample space; N > P: normal equations
def test_the_damped_direction_solves_the_regularized_normal_equations(points):
    net = _tiny_net()
    x = torch.rand(points, 2, dtype=torch.float64)
    block = _block(net, x, 0.3)
    opt = ENGD(net.parameters(), damping=1e-3)
    d, R = opt.direction([block])
    J = block.jacobian(tuple(p.detach() for p in net.parameters()))
    G = J.T @ J + 1e-3 * torch.eye(J.shape[1], dtype=J.dtype)
    torch.testing.assert_close(d, -torch.linalg.solve(G, J.T @ R), rtol=1e-9, atol=1e-12)


def test_the_loss_blocks_square_sum_to_the_weighted_loss(tmp_path):
    from pinnkit.build import build

    cfg = compose_cfg(tmp_path, "pde=burgers", "derivative=taylor", "trainer.precision=64", "model.width=8",
                      "model.depth=2", "data.points.interior=30", "data.points.initial=10", "data.points.boundary=6",
                      "+loss_weights.ic=3.0")  # fmt: skip
    module = build(cfg)
    batch = module.sample(0)
    weights = torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)
    module.balance_weights.copy_(weights)
    total = module.loss_fn(module.net, batch, weights)[0]
    blocks = module.residual_blocks(batch)
    params = tuple(p.detach() for p in module.parameters() if p.requires_grad)
    from_blocks = sum(float(b.values(params).square().sum()) for b in blocks)
    assert from_blocks == pytest.approx(float(total.detach()), rel=1e-12)


def test_adam_then_engd_trains_poisson_far_below_adam(tmp_path):
    from pinnkit.train import train

    common = ["pde=poisson", "derivative=taylor", "trainer.precision=64", "model.width=32", "model.depth=1",
              "data.points.interior=200", "data.points.boundary=60", "data.resample_every=0", "trainer.max_steps=60",
              "trainer.val_check_interval=60", "trainer.enable_progress_bar=false", "logger=csv"]  # fmt: skip
    adam = train(compose_cfg(tmp_path / "adam", *common, "optim=adam"))
    engd = train(compose_cfg(tmp_path / "engd", *common, "optim=adam_engd", "optim.second_from=10"))
    assert engd["val/l2_rel"] < 1e-4 and adam["val/l2_rel"] > 1e-1  # 50 ENGD steps: ~6e-6; Adam: ~0.4
    assert engd["stopped"] is None


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["derivative=autograd"], r"derivative=autograd cannot run under .* Use derivative=taylor"),
        (["derivative=taylor", "pde=allen_cahn", "causal.chunks=4"], r"causal\.chunks=0"),
    ],
)
def test_engd_refuses_what_it_cannot_run_naming_the_fix(tmp_path, overrides, match):
    from pinnkit.build import build

    with pytest.raises(ValueError, match=match):
        build(compose_cfg(tmp_path, "optim=adam_engd", *overrides))


def test_engd_refuses_ddp_naming_the_reason(tmp_path):
    from pinnkit.build import build
    from pinnkit.training.startup import check_methods

    module = build(compose_cfg(tmp_path, "optim=adam_engd", "derivative=taylor"))
    with pytest.raises(ValueError, match=r"one process: .* DDP splits over the 2 ranks"):
        check_methods(module.phases, module.loss_fn, world_size=2)
