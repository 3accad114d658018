"""The ``taylor`` backend: each propagation rule against ``autograd`` in float64, channel counts, collapsed
sums, errors for what it cannot propagate, compilation; and the ``auto`` backend's selection."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pinnkit.derivatives import Auto, Autograd, Taylor, UnsupportedModule, UnsupportedRequest, get_backend
from pinnkit.derivatives.names import make_request
from pinnkit.derivatives.taylor import spec_for
from pinnkit.jets import ChannelSpec
from pinnkit.jets import activations as act
from pinnkit.nets import MLP, Normalize, Sin

AXES3 = ("x", "y", "z")
NEEDS3 = (
    "u",
    "u_x",
    "v_yz",
    "u_xxy",
    "v_zzz",
    "u_xx+u_yy+u_zz",
    "v_x+v_yy",
    "u_xy+u_zz",
    "u_x+-0.5*u_yz+2.0*u_zz",
    "v_y+0.25*v_xx",
    "u_x+-1.5*u_z",
    "-2.0*v_xx+-2.0*v_yy",
)


def _agree(net, x, needs, axes=AXES3, fields=("u", "v"), atol=1e-10):
    ref, got = Autograd()(net, x, needs, axes=axes, fields=fields), Taylor()(net, x, needs, axes=axes, fields=fields)
    names = ["jac", "hess"] if needs is None else list(needs)
    for n in names:
        torch.testing.assert_close(got[n], ref[n], rtol=0, atol=atol, msg=lambda m, n=n: f"{n}: {m}")


def _x(*lead, d=3, seed=0):
    return torch.rand(*lead, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize(
    "act",
    [nn.Tanh(), nn.Sigmoid(), nn.SiLU(), nn.GELU(), nn.Softplus(), nn.Softplus(beta=2.0, threshold=1.0), Sin()],
    ids=lambda m: repr(m),
)
def test_each_activation_rule_to_fourth_order(act):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), act, nn.Linear(8, 8), act, nn.Linear(8, 2)).double()
    x = _x(16) * 3  # wide enough that softplus crosses its threshold
    _agree(net, x, NEEDS3)
    _agree(net, x, None)
    fourth = ("u_xxxx", "v_xxyy", "u_xyzz", "v_yyyz", "u_xxxx+2.0*u_xxyy+u_yyyy")
    ref, got = Autograd()(net, x, fourth, fields=("u", "v")), Taylor()(net, x, fourth, fields=("u", "v"))
    for n in fourth:
        assert (got[n] - ref[n]).abs().max() <= 1e-10 * ref[n].abs().max(), n


@pytest.mark.parametrize("fn", ["tanh", "sin", "cos", "exp", "sigmoid", "silu", "gelu", "sqrt", "log"])
def test_activation_derivatives_to_fourth_order_match_autograd(fn):
    h = torch.linspace(0.2, 2.5, 11, dtype=torch.float64).requires_grad_(True)
    got = getattr(act, fn)(h, 4)
    g = got[0]
    for k in range(1, 5):
        (g,) = torch.autograd.grad(g.sum(), h, create_graph=True)
        torch.testing.assert_close(got[k], g, rtol=1e-12, atol=1e-12, msg=lambda m, k=k: f"{fn}^({k}): {m}")


def test_diagonal_fourth_order_terms_are_grouped():
    spec = ChannelSpec.build(1, [(0, 0, 0, 0)])
    (terms,) = [t for a, t in zip(spec.keys[spec.blocks[3]], spec.higher_terms, strict=True) if a == (0, 0, 0, 0)]
    # h_iiii, 4 h_i h_iii, 3 h_ii², 6 h_i² h_ii, h_i⁴: 15 partitions, 5 terms
    assert sorted((nb, k) for nb, _, k in terms) == [(1, 1), (2, 3), (2, 4), (3, 6), (4, 1)]


def test_normalize_identity_and_mlp_with_leading_dims():
    torch.manual_seed(1)
    net = nn.Sequential(Normalize([0, -1, -2], [1, 1, 2]), nn.Identity(), MLP(3, 2, 8, 3, "tanh", False)).double()
    for lead in [(5,), (2, 3), ()]:
        _agree(net, _x(*lead), NEEDS3)


def test_products_sums_columns_and_concatenation():
    from tests.test_derivatives_analytic import map3

    x = _x(9)
    needs = ("u_xy", "v_xx", "w_xz", "w_zzz", "u_xyz", "v_xx+v_yy+v_zz", "w_xx+w_yz", "w_x+-3.0*w_xy+0.5*w_yy")
    ref = Autograd()(map3, x, needs, fields=("u", "v", "w"))
    got = Taylor()(map3, x, needs, fields=("u", "v", "w"))
    for n in needs:
        torch.testing.assert_close(got[n], ref[n], rtol=0, atol=1e-12)


def test_only_needed_channels_are_carried():
    heat = make_request(("u_t", "u_xx"), ("u",), ("t", "x"))
    assert spec_for(heat, 2).keys == ((), (0,), (1,), (1, 1))  # u, u_t, u_x, u_xx: 4 channels
    axes = tuple(f"x{i}" for i in range(10))
    lap = make_request(("+".join(f"u_{a}{a}" for a in axes),), ("u",), axes)
    spec = spec_for(lap, 10)
    assert spec.size == 12 and lap.part_only  # value, 10 directions, one collapsed Laplacian
    kdv = make_request(("u_t", "u_x", "u_xxx"), ("u",), ("t", "x"))
    assert spec_for(kdv, 2).keys == ((), (0,), (1,), (1, 1), (1, 1, 1))
    with pytest.raises(ValueError, match="first- and second-order"):
        ChannelSpec.build(2, [], [(((0, 1, 1), 1.0),)])
    heat = make_request(("u_t+-0.1*u_xx",), ("u",), ("t", "x"))
    assert spec_for(heat, 2).keys == ((), (1,), ("sum", (((0,), 1.0), ((1, 1), -0.1))))  # u, u_x, u_t-0.1u_xx


def test_collapsed_sum_is_one_channel_and_reads_like_other_backends():
    torch.manual_seed(2)
    net = MLP(4, 1, 8, 2, "tanh", False).double()
    axes = ("a", "b", "c", "e")
    lap = "u_aa+u_bb+u_cc+u_ee"
    x = _x(6, d=4)
    got = Taylor()(net, x, (lap,), axes=axes)
    assert got.available() == ["u", lap]
    with pytest.raises(KeyError, match="'u_aa' was not computed"):
        _ = got["u_aa"]  # carried only inside the sum
    ref = Autograd()(net, x, None, axes=axes)
    torch.testing.assert_close(got[lap], torch.diagonal(ref.hess[:, 0], dim1=-2, dim2=-1).sum(-1), rtol=0, atol=1e-10)
    # weighted: -0.5 Δu + 3 u_a (one channel; the equal-weight Laplacian takes the one-reduction path)
    combo = "3.0*u_a+" + "+".join(f"-0.5*u_{a}{a}" for a in axes)
    weighted = Taylor()(net, x, (combo,), axes=axes)
    assert spec_for(weighted.request, 4).size == 6  # value, 4 directions, one channel
    expect = 3.0 * ref.jac[:, 0, 0] - 0.5 * torch.diagonal(ref.hess[:, 0], dim1=-2, dim2=-1).sum(-1)
    torch.testing.assert_close(weighted[combo], expect, rtol=0, atol=1e-10)


@pytest.mark.parametrize("needs", [("u_t", "u_x", "u_xx"), ("u_xx+u_yy+u_zz",), ("u_t+-0.1*u_xx", "u_y")])
def test_first_activation_keeps_constant_directions_factored_and_linear_takes_them(needs):
    """After Linear -> tanh, a channel ``σ^(t)(h) ⊙ c`` (``c`` the first Linear's columns, the same at every point)
    stays :class:`Scaled`; the next Linear gives what it gives the multiplied-out jet."""
    from pinnkit.jets import Jet, Scaled

    axes = ("t", "x", "y") if "u_t" in needs[0] else ("x", "y", "z")
    spec = spec_for(make_request(needs, ("u",), axes), 3)
    torch.manual_seed(3)
    first, second = nn.Linear(3, 6).double(), nn.Linear(6, 5).double()
    jet = Jet.seed(_x(7), spec).linear(first.weight, first.bias).map(act.tanh)
    assert any(isinstance(b, Scaled) for b in jet._raw)
    dense = Jet(list(jet._raw), spec)
    assert not any(isinstance(b, Scaled) for b in dense.blocks)  # reading blocks multiplies them out
    torch.testing.assert_close(
        jet.linear(second.weight, second.bias).data, dense.linear(second.weight, second.bias).data, rtol=0, atol=1e-14
    )


def test_unsupported_modules_and_plain_functions_get_clear_errors():
    x = _x(4)
    relu_net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    with pytest.raises(UnsupportedModule, match=r"no rule for ReLU.*forward_jet.*autograd, batched_grad"):
        Taylor()(relu_net, x, ("u_x",))
    with pytest.raises(UnsupportedModule, match="exact GELU only"):
        Taylor()(nn.Sequential(nn.Linear(3, 2), nn.GELU(approximate="tanh")).double(), x, ("u_x",))
    with pytest.raises(UnsupportedModule, match=r"plain callable 'sin'.*autograd"):
        Taylor()(torch.sin, x, ("u_x",))
    with pytest.raises(UnsupportedRequest, match="up to order 4; 'u_xxxxx' is of order 5"):
        Taylor()(MLP(3, 1, 4, 1).double(), x, ("u_xxxxx",))


def test_keeps_the_graph_to_parameters_and_trains():
    torch.manual_seed(3)
    net = MLP(2, 1, 8, 2, "tanh", False).double()
    x = _x(32, d=2)
    grads = []
    for backend in (Autograd(), Taylor()):
        net.zero_grad()
        d = backend(net, x, ("u_t", "u_xx"), axes=("t", "x"))
        (d["u_t"] - 0.1 * d["u_xx"]).square().mean().backward()
        flat = [(torch.zeros_like(p) if p.grad is None else p.grad).flatten() for p in net.parameters()]
        grads.append(torch.cat(flat))
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])  # CUDA graphs: on CPU the mode's fallback
def test_compiled_matches_eager(mode):
    torch.manual_seed(4)
    net = MLP(2, 1, 8, 2, "tanh", False)
    x = torch.rand(64, 2)
    eager = Taylor()(net, x, ("u_t", "u_xx"), axes=("t", "x"))
    compiled = Taylor(compile=True, compile_mode=mode)(net, x, ("u_t", "u_xx"), axes=("t", "x"))
    for n in ("u", "u_t", "u_xx"):
        torch.testing.assert_close(compiled[n], eager[n], rtol=1e-5, atol=1e-6)
    compiled["u_xx"].sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_unknown_compile_mode_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown compile_mode 'fast'.*reduce-overhead"):
        Taylor(compile=True, compile_mode="fast")


def test_compile_switch_refused_where_double_backward_is_needed():
    with pytest.raises(ValueError, match=r"cannot be compiled.*taylor"):
        get_backend("autograd", compile=True)


def test_auto_picks_an_agreeing_backend_and_reports_timings():
    torch.manual_seed(5)
    net = MLP(2, 1, 8, 2, "tanh", False).double()
    x = _x(64, d=2)
    auto = Auto(candidates=("autograd", "func", "taylor"), steps=1)
    auto.prepare(net, x, ("u_t", "u_xx"), axes=("t", "x"))
    (report,) = auto.report.values()
    assert report["choice"] in ("autograd", "func", "taylor")
    assert all(isinstance(report[f"{n}_ms"], float) for n in ("autograd", "func", "taylor"))
    d = auto(net, x, ("u_t", "u_xx"), axes=("t", "x"))
    ref = Autograd()(net, x, ("u_t", "u_xx"), axes=("t", "x"))
    torch.testing.assert_close(d["u_xx"], ref["u_xx"], rtol=0, atol=1e-10)
    # a plain function: taylor is not eligible, and says why
    auto(lambda z: torch.sin(z).sum(-1), x, ("u_x",), axes=("t", "x"))
    assert "not eligible" in auto.report["u_x"]["taylor_ms"]
    with pytest.raises(ValueError, match="non-empty subset"):
        Auto(candidates=("fast",))
