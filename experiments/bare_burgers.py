"""Library-free reference loops for the Burgers benchmark (``bench_peers.py``): the same MLP, points, loss and
Adam in plain PyTorch, with no training framework, logging or checks around them.

- :func:`autograd_loss`: nested reverse mode, what DeepXDE and pinnkit's ``derivative=autograd`` compute: ``u``,
  then ``grad(u.sum(), x)`` for ``(u_t, u_x)``, then ``grad(u_x.sum(), x)`` for ``u_xx``;
- :func:`taylor_loss`: a hand-written forward Taylor step, the four channels ``u, u_t, u_x, u_xx`` through every
  layer (Linear: a matmul per channel; tanh: ``a' = s h'``, ``a'' = s' h'^2 + s h''`` with ``s = 1 - tanh^2``),
  meant to be compiled whole with ``torch.compile``.

Points ``x (N, 2)`` over ``(t, x)``: the residual at all ``N`` of them, and the last ``n_ic + n_bc`` rows are the
initial then the boundary points (pinnkit's ``data.residual_everywhere=true`` layout). Loss: mean square residual
``u_t + u u_x - ν u_xx`` + mean ``(u + sin(πx))²`` at the initial points + mean ``u²`` at the boundary points,
pinnkit's Burgers terms with unit weights (a test checks all three agree).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def mlp_like(linears: list[nn.Linear]) -> nn.Sequential:
    """A plain ``nn.Sequential`` tanh MLP holding copies of ``linears``' weights (``(N, 2) -> (N, 1)``)."""
    layers: list[nn.Module] = []
    for k, lin in enumerate(linears):
        new = nn.Linear(lin.in_features, lin.out_features)
        with torch.no_grad():
            new.weight.copy_(lin.weight)
            new.bias.copy_(lin.bias)
        layers += [new] if k == len(linears) - 1 else [new, nn.Tanh()]
    return nn.Sequential(*layers)


def _boundary_terms(u: Tensor, x: Tensor, n_ic: int, n_bc: int) -> Tensor:
    """``u (N,)`` at the points ``x (N, 2)``: the initial and boundary mean squares from the tail rows."""
    n = x.shape[0] - n_ic - n_bc
    ic = u[n : n + n_ic] + torch.sin(math.pi * x[n : n + n_ic, 1])
    return ic.square().mean() + u[n + n_ic :].square().mean()


def autograd_loss(net: nn.Module, x: Tensor, n_ic: int, n_bc: int, nu: float) -> Tensor:
    """The Burgers loss with nested ``torch.autograd.grad`` (``x (N, 2)`` without grad; a scalar)."""
    x = x.detach().requires_grad_(True)
    u = net(x)[:, 0]
    (g,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    u_t, u_x = g[:, 0], g[:, 1]
    (gx,) = torch.autograd.grad(u_x.sum(), x, create_graph=True)
    r = u_t + u * u_x - nu * gx[:, 1]
    return r.square().mean() + _boundary_terms(u, x, n_ic, n_bc)


def taylor_loss(net: nn.Sequential, x: Tensor, n_ic: int, n_bc: int, nu: float) -> Tensor:
    """The Burgers loss with a hand-written forward Taylor pass through ``net`` (Linear/Tanh; ``x (N, 2)``)."""
    linears = [m for m in net if isinstance(m, nn.Linear)]
    first, *hidden, last = linears
    h = x @ first.weight.T + first.bias  # after the first layer: h_t, h_x are its weight's columns, h_xx = 0
    a = torch.tanh(h)
    s = 1 - a * a
    a_t, a_x, a_xx = s * first.weight[:, 0], s * first.weight[:, 1], -2 * a * s * first.weight[:, 1] ** 2
    for lin in hidden:
        w = lin.weight.T
        h, h_t, h_x, h_xx = a @ w + lin.bias, a_t @ w, a_x @ w, a_xx @ w
        a = torch.tanh(h)
        s = 1 - a * a
        a_t, a_x, a_xx = s * h_t, s * h_x, -2 * a * s * h_x * h_x + s * h_xx
    w = last.weight.T
    u, u_t, u_x, u_xx = (a @ w + last.bias)[:, 0], (a_t @ w)[:, 0], (a_x @ w)[:, 0], (a_xx @ w)[:, 0]
    r = u_t + u * u_x - nu * u_xx
    return r.square().mean() + _boundary_terms(u, x, n_ic, n_bc)
