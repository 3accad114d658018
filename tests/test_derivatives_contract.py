"""The derivative contract: agreement, batch independence, graph to parameters, the classic traps, errors."""

from __future__ import annotations

import pytest
import torch

from pinnkit.derivatives import Autograd, BatchedGrad, Dense, UnsupportedRequest, get_backend
from pinnkit.derivatives.assemble import row_plan
from pinnkit.derivatives.names import combination, make_request
from pinnkit.jets import activations as act
from tests.conftest import ALL_BACKENDS, make_mlp


@pytest.mark.parametrize("lead", [(9,), (2, 4), (3, 1, 2)])
@pytest.mark.parametrize("d,m", [(1, 1), (2, 1), (2, 3), (3, 1), (3, 3)])
def test_agrees_with_autograd_on_mlps(backend, lead, d, m):
    net = make_mlp(d, m, seed=d * 10 + m)
    x = torch.randn(*lead, d, dtype=torch.float64)
    ref, out = get_backend("autograd")(net, x), backend(net, x)
    torch.testing.assert_close(out.u, ref.u, rtol=0, atol=1e-13)
    torch.testing.assert_close(out.jac, ref.jac, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.hess, ref.hess, rtol=0, atol=1e-12)


def test_named_entries_agree_with_full_tensors(backend):
    net = make_mlp(2, 2)
    x = torch.randn(11, 2, dtype=torch.float64)
    full = get_backend("autograd")(net, x)
    out = backend(net, x, ("u_t", "u_xx", "v_tx", "v"), axes=("t", "x"), fields=("u", "v"))
    torch.testing.assert_close(out["u_t"], full.jac[:, 0, 0], rtol=0, atol=1e-12)
    torch.testing.assert_close(out["u_xx"], full.hess[:, 0, 1, 1], rtol=0, atol=1e-12)
    torch.testing.assert_close(out["v_tx"], full.hess[:, 1, 0, 1], rtol=0, atol=1e-12)
    with pytest.raises(KeyError, match="'u_tt' was not computed"):
        _ = out["u_tt"]
    with pytest.raises(KeyError, match="full Hessian was not computed"):
        _ = out.hess


def test_a_parsed_request_serves_as_the_names(backend):
    """A training loop parses its needs once (make_request) and passes the Request: same results, its axes and
    fields in force."""
    net = make_mlp(2, 2)
    x = torch.randn(11, 2, dtype=torch.float64)
    needs = ("u_t", "u_xx", "v_tx", "v")
    by_name = backend(net, x, needs, axes=("t", "x"), fields=("u", "v"))
    req = make_request(needs, ("u", "v"), ("t", "x"))
    parsed = backend(net, x, req)
    assert parsed.axes == ("t", "x") and parsed.fields == ("u", "v")
    for name in needs:
        torch.testing.assert_close(parsed[name], by_name[name], rtol=0, atol=0)
    with pytest.raises(ValueError, match="d=3 input columns but 2 axis names"):
        backend(make_mlp(3, 2), torch.randn(4, 3, dtype=torch.float64), req)


def test_weighted_sums_from_every_backend(backend):
    """``combination`` names a weighted sum (one channel in taylor); every backend returns the same values."""
    net = make_mlp(2, 2)
    x = torch.randn(7, 2, dtype=torch.float64)
    full = get_backend("autograd")(net, x)
    heat = combination("u", {"t": 1.0, "xx": -0.1})
    mixed = combination("v", {"x": 2.0, "tx": -1e-20, "tt": 1.0})
    assert heat == "u_t+-0.1*u_xx" and mixed == "2.0*v_x+-1e-20*v_tx+v_tt"
    assert combination("u", {"xx": 1e16}) == "1e16*u_xx"  # no '+' inside a part
    out = backend(net, x, (heat, mixed, "u_t"), axes=("t", "x"), fields=("u", "v"))
    torch.testing.assert_close(out[heat], full.jac[:, 0, 0] - 0.1 * full.hess[:, 0, 1, 1], rtol=0, atol=1e-12)
    expect = 2.0 * full.jac[:, 1, 1] - 1e-20 * full.hess[:, 1, 0, 1] + full.hess[:, 1, 0, 0]
    torch.testing.assert_close(out[mixed], expect, rtol=0, atol=1e-12)
    torch.testing.assert_close(out["u_t"], full.jac[:, 0, 0], rtol=0, atol=1e-12)


def test_batch_independence(backend):
    """Perturbing point k changes row k of u, jac and hess only."""
    net = make_mlp(3, 2, seed=4)
    x = torch.randn(6, 3, dtype=torch.float64)
    base = backend(net, x)
    x2 = x.clone()
    x2[3] += 0.3
    moved = backend(net, x2)
    for a, b in ((base.u, moved.u), (base.jac, moved.jac), (base.hess, moved.hess)):
        changed = (a - b).flatten(1).abs().amax(1) > 0
        assert changed.tolist() == [False, False, False, True, False, False]


def test_one_grad_call_over_many_outputs_sums_rows():
    """The classic trap: grad(u, x, ones) returns the sum of the Jacobian's rows, not the Jacobian."""
    net = make_mlp(2, 3)
    x = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    u = net(x)
    (naive,) = torch.autograd.grad(u, x, torch.ones_like(u))
    jac = BatchedGrad()(net, x).jac  # (5, 3, 2)
    torch.testing.assert_close(naive, jac.sum(1), rtol=0, atol=1e-12)
    assert not torch.allclose(naive.unsqueeze(1).expand_as(jac), jac)


def test_autograd_differentiates_only_requested_rows(monkeypatch):
    """Heat needs u_t and u_xx: one grad for ∇u, one for ∇u_x; u_tt and u_tx rows are never formed."""
    req = make_request(("u_t", "u_xx"), ("u",), ("t", "x"))
    assert row_plan(req, 1) == [[(0, ())], [(0, (1,))]]
    calls = []
    real = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(1) or real(*a, **k))
    Autograd()(make_mlp(2, 1), torch.randn(4, 2, dtype=torch.float64), ("u_t", "u_xx"), axes=("t", "x"))
    assert len(calls) == 2


class FlatMLP(torch.nn.Module):
    """``tanh(x W1^T + b1) W2^T + b2`` with its weights given as plain tensors (views of a flat vector)."""

    def __init__(self, w1, b1, w2, b2):
        super().__init__()
        self.w = (w1, b1, w2, b2)

    def forward(self, x):
        w1, b1, w2, b2 = self.w
        return torch.tanh(x @ w1.T + b1) @ w2.T + b2

    def forward_jet(self, j):
        w1, b1, w2, b2 = self.w
        return j.linear(w1, b1).map(act.tanh).linear(w2, b2)


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_gradcheck_through_derivative_loss(name):
    """d(loss)/d(params) of a loss built from u_x and u_xx matches finite differences, for every backend."""
    net = make_mlp(2, 1, width=3, depth=1, seed=5)
    shapes = {k: v.shape for k, v in net.named_parameters()}
    theta = torch.cat([p.detach().flatten() for p in net.parameters()]).requires_grad_(True)
    x = torch.randn(4, 2, dtype=torch.float64)
    backend = get_backend(name)

    def loss(flat):
        params, i = {}, 0
        for k, s in shapes.items():
            params[k] = flat[i : i + s.numel()].view(s)
            i += s.numel()
        d = backend(FlatMLP(*params.values()), x, ("u_t", "u_xx"), axes=("t", "x"))
        return (d["u_t"] - 0.1 * d["u_xx"]).square().mean()

    assert torch.autograd.gradcheck(loss, (theta,), eps=1e-6, atol=1e-7)
    (g,) = torch.autograd.grad(loss(theta), theta)
    assert g.abs().sum() > 0


def test_derivatives_keep_graph_to_parameters(backend):
    net = make_mlp(2, 1)
    out = backend(net, torch.randn(8, 2, dtype=torch.float64), ("u_xx",), axes=("t", "x"))
    out["u_xx"].square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters() if p.dim() == 2)


def test_no_grad_context_is_refused(backend):
    net, x = make_mlp(2, 1), torch.randn(3, 2, dtype=torch.float64)
    if not backend.uses_autograd:  # forward mode needs no autograd for values: same numbers, no graph
        with torch.no_grad():
            out = backend(net, x)
        assert not out.hess.requires_grad
        torch.testing.assert_close(out.hess, get_backend("autograd")(net, x).hess.detach())
        return
    with torch.no_grad(), pytest.raises(RuntimeError, match="enable_grad"):
        backend(net, x)


def test_values_only_need_no_autograd(backend):
    with torch.no_grad():
        out = backend(make_mlp(2, 1), torch.randn(3, 2, dtype=torch.float64), ("u",), axes=("t", "x"))
    assert out["u"].shape == (3,)


def test_dense_refuses_large_point_sets():
    net = make_mlp(2, 1)
    Dense(max_points=16)(net, torch.randn(16, 2, dtype=torch.float64))
    with pytest.raises(UnsupportedRequest, match=r"O\(N²\).*max_points=16.*'autograd'"):
        Dense(max_points=16)(net, torch.randn(17, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="max_points must be >= 1"):
        Dense(max_points=0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"needs": ("q_x",)}, r"unknown field 'q'.*\('u',\)"),
        ({"needs": ("u_y",)}, r"cannot read 'y'.*axes are \('t', 'x'\)"),
        ({"needs": ("u_",)}, "names no axis"),
        ({"needs": "u_x"}, "not the string"),
        ({"needs": ("u_x",), "fields": ("u", "v")}, "m=1 output columns"),
        ({"needs": ("u_t+k*u_xx",)}, r"'k' is not a number.*'-0.1\*u_xx'"),
        ({"needs": ("u_t+-0.1*u_t",)}, "repeats a term"),
        ({"needs": ("u+2.0*u_x",)}, "order >= 1"),
    ],
)
def test_bad_requests_name_the_valid_choices(kwargs, match):
    with pytest.raises((KeyError, ValueError, TypeError), match=match):
        Autograd()(make_mlp(2, 1), torch.randn(3, 2, dtype=torch.float64), axes=("t", "x"), **kwargs)


def test_wrong_axis_count_and_unknown_backend():
    with pytest.raises(ValueError, match="d=2 input columns but 3 axis names"):
        Autograd()(make_mlp(2, 1), torch.randn(3, 2), axes=("t", "x", "y"))
    with pytest.raises(ValueError, match=r"unknown derivative backend 'fast'; valid: \['auto', 'autograd'"):
        get_backend("fast")
