"""The public derivative API refuses what it cannot differentiate: an output with no autograd path to x (numpy,
x.detach()) on every backend, and, with check_pointwise=True, a net that mixes points."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pinnkit.derivatives import BACKENDS, get_backend
from tests.conftest import CALLABLE_BACKENDS, make_mlp

NET = make_mlp(1, 1)
OFF_GRAPH = {
    "numpy": lambda x: torch.as_tensor(x.detach().numpy() ** 2),
    "detach": lambda x: x.detach() ** 2,
    "numpy_inside_a_net": lambda x: NET(torch.as_tensor(x.detach().numpy())),  # reaches the parameters, not x
}


@pytest.mark.parametrize("how", sorted(OFF_GRAPH))
@pytest.mark.parametrize("name", CALLABLE_BACKENDS)
def test_an_output_with_no_autograd_path_to_x_is_refused(name, how):
    from pinnkit.derivatives.paths import NoPathError

    x = torch.linspace(0.1, 1.0, 5, dtype=torch.float64)[:, None]
    with pytest.raises(NoPathError, match=r"no autograd path|outside torch"):
        get_backend(name)(OFF_GRAPH[how], x, ("u_x", "u_xx"))


@pytest.mark.parametrize("name", CALLABLE_BACKENDS)
def test_a_genuinely_zero_derivative_is_fine(name):
    x = torch.linspace(0.1, 1.0, 5, dtype=torch.float64)[:, None]

    def f(z):  # u = z², v = 3 (does not depend on z): v_x = 0 is the right answer
        return torch.cat([z**2, torch.zeros_like(z) + 3.0], -1)

    d = get_backend(name)(f, x, ("u_x", "v_x", "v_xx"), fields=("u", "v"))
    torch.testing.assert_close(d["u_x"], 2 * x[:, 0])
    assert d["v_x"].abs().max() == 0 and d["v_xx"].abs().max() == 0


class Centered(nn.Module):
    """Subtracts the batch mean: not pointwise."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp(1, 1)

    def forward(self, x):
        return self.net(x - x.mean(0))


def _batchnorm() -> nn.Module:
    return nn.Sequential(nn.Linear(1, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 1)).double().train()


NOT_POINTWISE = {"batchnorm": _batchnorm, "centered": Centered}


@pytest.mark.parametrize("net", sorted(NOT_POINTWISE))
@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_check_pointwise_on_a_direct_call_refuses_a_net_that_mixes_points(name, net):
    from pinnkit.derivatives.checks import NotPointwiseError

    x = torch.linspace(-1, 1, 8, dtype=torch.float64)[:, None]
    with pytest.raises(NotPointwiseError):
        get_backend(name)(NOT_POINTWISE[net](), x, ("u_xx",), check_pointwise=True)


def test_check_pointwise_passes_a_pointwise_net_and_changes_nothing():
    net, x = make_mlp(2, 1), torch.rand(6, 2, dtype=torch.float64)
    for name in sorted(BACKENDS):
        a = get_backend(name)(net, x, ("u_x", "u_yy"), axes=("x", "y"), check_pointwise=True)
        b = get_backend(name)(net, x, ("u_x", "u_yy"), axes=("x", "y"))
        torch.testing.assert_close(a["u_yy"], b["u_yy"])
