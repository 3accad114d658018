"""The shipped networks: pointwise shapes, exact periodicity, clear errors, and ``taylor`` == ``autograd`` (f64)."""

from __future__ import annotations

import pytest
import torch

from pinnkit.derivatives import Autograd, Taylor
from pinnkit.nets import MLP, ModifiedMLP

AXES = ("t", "x", "y")
NEEDS = ("u", "u_t", "v_xy", "u_txx", "v_yyy", "u_xx+u_yy", "v_t+v_xx", "u_t+-0.3*u_xx+2.5*u_xy", "v_y+-1.5*v_tt")
BOX = {"lower": [0.0, -1.0, 0.0], "upper": [1.0, 1.0, 2.0], "axes": AXES}
VARIANTS = {
    "mlp": {},
    "periodic": {"periodic": {"x": 2.0}},
    "fourier": {"fourier_features": 6, "fourier_scale": 2.0},
    "rwf+periodic+fourier": {"rwf": True, "periodic": {"x": 2.0, "y": 2.0}, "fourier_features": 4},
}


def _net(cls, variant: str, activation: str = "tanh"):
    torch.manual_seed(0)
    return cls(3, 2, 10, 3, activation, **BOX, **VARIANTS[variant]).double()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("cls", [MLP, ModifiedMLP])
def test_taylor_matches_autograd(cls, variant):
    net = _net(cls, variant, "silu" if variant == "fourier" else "tanh")
    x = torch.rand(3, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ref = Autograd()(net, x, NEEDS, axes=AXES, fields=("u", "v"))
    got = Taylor()(net, x, NEEDS, axes=AXES, fields=("u", "v"))
    for n in NEEDS:
        torch.testing.assert_close(got[n], ref[n], rtol=0, atol=1e-10, msg=lambda m, n=n: f"{n}: {m}")


NEEDS4 = ("u_xxxx", "v_tttt", "u_xxyy", "v_txyy", "u_xxxy", "u_xxxx+2.0*u_xxyy+u_yyyy")


def _relative_close(got, ref, needs, rel=1e-10):
    """Each entry equal to relative ``rel`` of its largest magnitude: Fourier features scale an order-k
    derivative by ``(2πσ)^k``, so an absolute bar would be meaningless at fourth order."""
    for n in needs:
        scale = ref[n].abs().max().item()
        assert scale > 0, n
        err = (got[n] - ref[n]).abs().max().item()
        assert err <= rel * scale, f"{n}: max error {err:.3e} vs scale {scale:.3e}"


@pytest.mark.parametrize("activation", ["tanh", "silu", "sin", "gelu"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("cls", [MLP, ModifiedMLP])
def test_fourth_order_taylor_matches_autograd(cls, variant, activation):
    net = _net(cls, variant, activation)
    x = torch.rand(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    ref = Autograd()(net, x, NEEDS4, axes=AXES, fields=("u", "v"))
    got = Taylor()(net, x, NEEDS4, axes=AXES, fields=("u", "v"))
    _relative_close(got, ref, NEEDS4)


@pytest.mark.parametrize("cls", [MLP, ModifiedMLP])
def test_periodic_axes_are_exactly_periodic(cls):
    net = _net(cls, "rwf+periodic+fourier")
    x = torch.rand(16, 3, dtype=torch.float64)
    shifted = x + torch.tensor([0.0, 2.0, -2.0], dtype=torch.float64)
    torch.testing.assert_close(net(shifted), net(x), rtol=0, atol=1e-12)
    assert not torch.allclose(net(x + torch.tensor([0.3, 0.0, 0.0], dtype=torch.float64)), net(x))


def test_rwf_starts_from_the_glorot_weight_it_factorizes():
    net = _net(MLP, "rwf+periodic+fourier")
    lin = net.linears[0]
    torch.testing.assert_close(lin.weight, torch.exp(lin.s)[:, None] * lin.v)
    assert {n for n, _ in lin.named_parameters()} == {"s", "v", "bias"}


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match=r"unknown axes \['z'\]; the axes are \['t', 'x', 'y'\]"):
        MLP(3, 1, **{**BOX, "periodic": {"z": 1.0}})
    with pytest.raises(ValueError, match="periods > 0"):
        MLP(3, 1, **{**BOX, "periodic": {"x": 0.0}})
    with pytest.raises(ValueError, match="fourier_features >= 0"):
        MLP(3, 1, fourier_features=-1)
    with pytest.raises(ValueError, match="ModifiedMLP width must be >= 1"):
        ModifiedMLP(3, 1, width=0)
