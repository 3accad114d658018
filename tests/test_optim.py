"""The self-scaled quasi-Newton optimizers (SSBFGS, SSBroyden, and plain BFGS as the reference) on their own:
convergence on Rosenbrock and a nonlinear least-squares fit, agreement with scipy's BFGS, restarts, the
parameter limit, the float64 warning, and a resume from ``state_dict()`` that continues bit for bit."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from pinnkit.optim import BFGS, SSBFGS, SSBroyden

OPTIMIZERS = [SSBFGS, SSBroyden, BFGS]


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def _minimize(cls, x0, f, steps: int, **kw) -> tuple[torch.Tensor, torch.optim.Optimizer]:
    x = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    opt = cls([x], **kw)

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return x.detach(), opt


@pytest.mark.parametrize("cls", OPTIMIZERS)
@pytest.mark.parametrize("x0", [[-1.2, 1.0], [-1.2, 1.0, -1.2, 1.0, 0.5]])
def test_rosenbrock_to_1e_10_within_the_budget(cls, x0):
    x, opt = _minimize(cls, x0, rosenbrock, steps=10, max_iter=50)  # ≤ 500 iterations
    assert float((x - 1).abs().max()) < 1e-10, (cls.__name__, x)
    assert opt.state[opt._params[0]]["n_iter"] <= 500


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_a_nonlinear_least_squares_fit_to_1e_10(cls):
    t = torch.linspace(0, 3, 40, dtype=torch.float64)
    truth = torch.tensor([2.0, 1.3, 0.4], dtype=torch.float64)
    data = truth[0] * torch.exp(-truth[1] * t) + truth[2]

    def loss(p):
        return ((p[0] * torch.exp(-p[1] * t) + p[2] - data) ** 2).mean()

    p, _ = _minimize(cls, [1.0, 0.5, 0.0], loss, steps=5, max_iter=50)
    assert float((p - truth).abs().max()) < 1e-10, (cls.__name__, p)


def test_ssbfgs_reaches_scipys_bfgs_optimum():
    from scipy.optimize import minimize

    def f(z):
        return float(rosenbrock(torch.tensor(z)))

    def grad(z):
        x = torch.tensor(z, requires_grad=True)
        rosenbrock(x).backward()
        return x.grad.numpy()

    x0 = [1.3, 0.7, 0.8, 1.9, 1.2]
    ref = minimize(f, x0, jac=grad, method="BFGS", options={"gtol": 1e-12, "maxiter": 2000})
    x, _ = _minimize(SSBFGS, x0, rosenbrock, steps=10, max_iter=50)
    np.testing.assert_allclose(x.numpy(), ref.x, atol=1e-8)


def test_a_non_descent_direction_restarts_from_the_gradient():
    x, opt = _minimize(SSBFGS, [-1.2, 1.0], rosenbrock, steps=1, max_iter=3)
    state = opt.state[opt._params[0]]
    before = state["restarts"]
    state["H"] = -torch.eye(2, dtype=torch.float64)  # d = -H g = +g: uphill
    x2 = torch.nn.Parameter(x.clone())
    opt.param_groups[0]["params"] = [x2]
    opt._params = [x2]
    opt.state[x2] = state

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x2)
        loss.backward()
        return loss

    f0 = float(rosenbrock(x))
    opt.param_groups[0]["max_iter"], opt.param_groups[0]["max_eval"] = 1, 20  # one iteration: the restarted one
    opt.step(closure)
    assert state["restarts"] == before + 1 and float(rosenbrock(x2.detach())) < f0


def test_the_parameter_limit_names_the_memory_and_float32_warns():
    with pytest.raises(ValueError, match=r"dense 200 x 200 inverse Hessian .* above max_params=100"):
        SSBroyden([torch.nn.Parameter(torch.zeros(200, dtype=torch.float64))], max_params=100)
    with pytest.warns(UserWarning, match="meant for float64"):
        SSBFGS([torch.nn.Parameter(torch.zeros(3))])


@pytest.mark.parametrize("initial_step", ["unit", "interpolate"])
def test_a_resume_from_state_dict_continues_bit_for_bit(initial_step):
    """Also with the interpolated first trial step, whose loss one iteration back is part of the state."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    x = torch.linspace(-1, 1, 32, dtype=torch.float64)[:, None]
    target = torch.sin(3 * x)

    def run(model, opt, steps):
        def closure():
            opt.zero_grad()
            loss = ((model(x) - target) ** 2).mean()
            loss.backward()
            return loss

        for _ in range(steps):
            opt.step(closure)

    a = __import__("copy").deepcopy(net)
    opt_a = SSBroyden(a.parameters(), max_iter=5, initial_step=initial_step)
    run(a, opt_a, 6)
    b = __import__("copy").deepcopy(net)
    opt_b = SSBroyden(b.parameters(), max_iter=5, initial_step=initial_step)
    run(b, opt_b, 3)
    buf = io.BytesIO()
    torch.save({"model": b.state_dict(), "opt": opt_b.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)  # plain tensors and numbers only
    assert ("f_prev" in saved["opt"]["state"][0]) == (initial_step == "interpolate")
    c = __import__("copy").deepcopy(net)
    c.load_state_dict(saved["model"])
    opt_c = SSBroyden(c.parameters(), max_iter=5, initial_step=initial_step)
    opt_c.load_state_dict(saved["opt"])
    run(c, opt_c, 3)
    for pa, pc in zip(a.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pc)


def _fit_sine(opt_kwargs: dict, steps: int):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    x = torch.linspace(-1, 1, 32, dtype=torch.float64)[:, None]
    target = torch.sin(3 * x)
    opt = SSBroyden(net.parameters(), **opt_kwargs)
    calls = [0]

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = ((net(x) - target) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return net, opt, calls[0]


def test_reusing_the_last_evaluation_follows_the_same_path_with_one_evaluation_less_per_step():
    """One iteration per step with the last accepted point's loss and gradient reused is, bit for bit, the same
    path as all iterations in one step, and saves the evaluation each later step would start with."""
    whole, _, calls_w = _fit_sine({"max_iter": 12, "max_eval": 1000}, 1)
    split, opt_s, calls_s = _fit_sine({"max_iter": 1, "max_eval": 25, "reuse_evaluation": True}, 12)
    plain, _, calls_p = _fit_sine({"max_iter": 1, "max_eval": 25}, 12)
    for a, b, c in zip(whole.parameters(), split.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert calls_s == calls_w and calls_p == calls_s + 11
    assert opt_s.state[opt_s._params[0]]["n_iter"] == 12


def test_a_changed_objective_or_moved_parameters_are_evaluated_afresh():
    net, opt, _ = _fit_sine({"max_iter": 1, "reuse_evaluation": True}, 3)
    state = opt.state[opt._params[0]]
    assert "g" in state
    opt.objective_changed(keep_curvature=True)
    assert "g" not in state and "H" in state
    opt.objective_changed(keep_curvature=False)
    assert "H" not in state and state["updates"] == 0
    x = torch.linspace(-1, 1, 32, dtype=torch.float64)[:, None]
    evaluations = []

    def closure():
        evaluations.append(1)
        opt.zero_grad()
        loss = ((net(x) - torch.sin(3 * x)) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    first = len(evaluations)
    opt.step(closure)
    second = len(evaluations) - first
    with torch.no_grad():
        next(net.parameters()).add_(1e-3)  # moved from outside: the cached gradient no longer holds
    opt.step(closure)
    third = len(evaluations) - first - second
    assert second == first - 1 and third == second + 1


def test_the_interpolated_first_step_saves_evaluations_and_still_converges():
    """``initial_step="interpolate"`` starts the line search below the unit step where the last decrease says the
    unit step would be cut back: fewer evaluations on the same fit and the same 1e-10 optimum (its resume: with the
    bit-for-bit resume test above); a new objective forgets the loss one iteration back; a bad name is refused
    naming the choices."""
    kw = {"max_iter": 1, "max_eval": 25, "reuse_evaluation": True}
    _, opt_u, calls_u = _fit_sine(kw, 60)
    _, opt_i, calls_i = _fit_sine({**kw, "initial_step": "interpolate"}, 60)
    assert calls_i < calls_u, (calls_i, calls_u)
    state = opt_i.state[opt_i._params[0]]
    assert isinstance(state["f_prev"], float) and "f_prev" not in opt_u.state[opt_u._params[0]]
    opt_i.objective_changed()
    assert "f_prev" not in state
    p, _ = _minimize(SSBroyden, [-1.2, 1.0], rosenbrock, steps=10, max_iter=50, initial_step="interpolate")
    assert float((p - 1).abs().max()) < 1e-10
    with pytest.raises(ValueError, match=r"initial_step must be one of \('unit', 'interpolate'\), got 'cubic'"):
        SSBroyden([torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))], initial_step="cubic")
