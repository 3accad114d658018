"""Runtime checks: non-pointwise nets and derivatives that lose the graph are caught with clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pinnkit.derivatives import Autograd, get_backend
from pinnkit.derivatives.checks import GraphLostError, NotPointwiseError, check_pointwise, check_reaches_params
from tests.conftest import make_mlp


class MeanMixer(nn.Module):
    """Subtracts the batch mean: a hidden dependence between points (like attention over points)."""

    def forward(self, x):
        return x - x.mean(0, keepdim=True)


class DetachingAutograd(Autograd):
    """The classic bug: derivatives computed, then detached from the graph."""

    name = "detaching"

    def compute(self, f, x, req):
        u, entries, jac, hess = super().compute(f, x, req)
        return u, {k: v.detach() for k, v in entries.items()}, jac, hess


def test_pointwise_mlp_passes():
    check_pointwise(make_mlp(2, 1), torch.randn(8, 2, dtype=torch.float64))


def test_batchnorm_is_rejected_by_name():
    net = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
    with pytest.raises(NotPointwiseError, match=r"'1' \(BatchNorm1d\) mixes points.*LayerNorm"):
        check_pointwise(net, torch.randn(8, 2))
    net.eval()  # running statistics: pointwise again
    check_pointwise(net, torch.randn(8, 2))


def test_point_mixing_net_is_rejected_by_perturbation():
    net = nn.Sequential(nn.Linear(2, 8), MeanMixer(), nn.Tanh(), nn.Linear(8, 1))
    with pytest.raises(NotPointwiseError, match="perturbing point 0 changed the outputs at points"):
        check_pointwise(net, torch.randn(8, 2))


def test_attention_over_points_is_rejected():
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp, self.att = nn.Linear(2, 8), nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            h = self.inp(x).unsqueeze(0)
            return self.att(h, h, h)[0].squeeze(0).sum(-1, keepdim=True)

    with pytest.raises(NotPointwiseError, match="MultiheadAttention"):
        check_pointwise(Attn(), torch.randn(8, 2))


def test_graph_check_passes_for_every_backend(backend):
    net = make_mlp(2, 1)
    check_reaches_params(backend, net, torch.randn(6, 2, dtype=torch.float64), net.parameters(), ("u_t", "u_xx"),
                         axes=("t", "x"))  # fmt: skip


def test_detached_derivatives_are_caught():
    net = make_mlp(2, 1)
    with pytest.raises(GraphLostError, match="'u_xx' from backend 'detaching' has no autograd graph"):
        check_reaches_params(DetachingAutograd(), net, torch.randn(6, 2, dtype=torch.float64), net.parameters(),
                             ("u_xx",), axes=("t", "x"))  # fmt: skip


def test_relu_second_derivative_vanishes():
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    with pytest.raises(GraphLostError, match="ReLU has u_xx = 0"):
        check_reaches_params(get_backend("autograd"), net, torch.randn(6, 2, dtype=torch.float64), net.parameters(),
                             ("u_xx",), axes=("t", "x"))  # fmt: skip
