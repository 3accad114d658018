"""Hard constraints u = b + φ N: conditions hold exactly, taylor matches autograd through the ansatz, and the
enforced terms leave the loss."""

from __future__ import annotations

import math

import pytest
import torch

from pinnkit.derivatives import Autograd, Taylor
from pinnkit.derivatives.taylor import UnsupportedModule
from pinnkit.domain import Box
from pinnkit.nets import MLP, ModifiedMLP
from pinnkit.nets.constrained import Constrained
from pinnkit.pdes import PDE, Advection, Burgers, Heat, Helmholtz, KdV, KleinGordon, Poisson, Schrodinger, Wave

HARD = {
    "heat": lambda: Heat(hard=True),
    "burgers": lambda: Burgers(hard=True),
    "poisson_square": lambda: Poisson(hard=True),
    "poisson_lshape": lambda: Poisson(geometry="lshape", hard=True),
    "poisson_disk": lambda: Poisson(geometry="disk", hard=True),
    "helmholtz": lambda: Helmholtz(hard=True),
    "wave": lambda: Wave(hard=True),
    "klein_gordon": lambda: KleinGordon(hard=True),
}


def _net(pde, cls=MLP):
    torch.manual_seed(0)
    inner = cls(len(pde.axes), 1, 16, 2, "tanh", True, pde.domain.lower, pde.domain.upper)
    return Constrained(inner, pde.ansatz).double()


@pytest.mark.parametrize("name", sorted(HARD))
def test_constrained_net_meets_the_conditions_exactly(name):
    pde = HARD[name]().double()
    net = _net(pde)
    gen = torch.Generator().manual_seed(0)
    soft = type(pde)(**({"geometry": pde.geometry} if hasattr(pde, "geometry") else {})).double()
    enforced = [t for t in soft.terms() if t.name not in {u.name for u in pde.terms()}]
    assert enforced and [t.name for t in pde.terms()] == ["pde"]
    for term in enforced:  # the soft problem's ic/bc residuals vanish for any weights of N
        x = pde.domain.sample(term.region, 200, gen, torch.float64)
        r = term.residual(Autograd()(net, x, term.needs, axes=pde.axes, fields=pde.fields), x)
        assert r.abs().max() < 1e-12, f"{name}/{term.name}"
    x = pde.domain.sample("interior", 50, gen, torch.float64)
    assert (net(x) - soft.exact(x)).abs().max() > 1e-3  # ...while the interior is still the network's to learn


@pytest.mark.parametrize("cls", [MLP, ModifiedMLP])
@pytest.mark.parametrize("name", sorted(HARD))
def test_taylor_matches_autograd_through_the_ansatz(name, cls):
    pde = HARD[name]().double()
    net = _net(pde, cls)
    x = pde.domain.sample("interior", 40, torch.Generator().manual_seed(1), torch.float64)
    needs = pde.terms()[0].needs
    ref = Autograd()(net, x, needs, axes=pde.axes, fields=pde.fields)
    got = Taylor()(net, x, needs, axes=pde.axes, fields=pde.fields)
    for n in needs:
        torch.testing.assert_close(got[n], ref[n], rtol=0, atol=1e-10)
    a, b = pde.axes[0], pde.axes[-1]
    fourth = (f"{pde.fields[0]}_{a * 4}", f"{pde.fields[-1]}_{a * 2}{b * 2}", f"{pde.fields[0]}_{a}{b * 3}")
    ref = Autograd()(net, x[:12], fourth, axes=pde.axes, fields=pde.fields)
    got = Taylor()(net, x[:12], fourth, axes=pde.axes, fields=pde.fields)
    for n in fourth:  # to fourth order, relative to each entry's size
        assert (got[n] - ref[n]).abs().max() <= 1e-10 * ref[n].abs().max(), n


def test_constrained_residual_reaches_the_parameters():
    pde = Heat(hard=True).double()
    net = _net(pde)
    x = pde.domain.sample("interior", 32, torch.Generator().manual_seed(2), torch.float64)
    loss = pde.residual(Taylor()(net, x, ("u_t", "u_xx"), axes=pde.axes, fields=pde.fields), x).square().mean()
    grads = torch.autograd.grad(loss, list(net.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)


def test_hard_is_refused_where_there_is_no_ansatz_and_taylor_names_unsupported_inner_nets():
    class Toy(PDE):
        name, axes = "toy", ("x",)

    with pytest.raises(ValueError, match="toy has no hard-constraint ansatz; hard=true works for heat, poisson"):
        Toy(Box({"x": (0.0, 1.0)}, time=None), {"x": 2}, hard=True)
    pde = Heat(hard=True)
    inner = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 1))
    x = pde.domain.sample("interior", 4, torch.Generator())
    with pytest.raises(UnsupportedModule, match="LayerNorm"):
        Taylor()(Constrained(inner, pde.ansatz), x, ("u_t",), axes=pde.axes, fields=pde.fields)


PERIODIC = {  # hard initial condition + a net periodic in x: (PDE, period of x)
    "burgers": (lambda: Burgers(hard=True, periodic=True), 2.0),
    "kdv": (lambda: KdV(hard=True), 2.0),
    "advection": (lambda: Advection(hard=True), 2 * math.pi),
    "schrodinger": (lambda: Schrodinger(hard=True), 10.0),
}


@pytest.mark.parametrize("name", sorted(PERIODIC))
def test_a_hard_initial_condition_with_a_periodic_net_meets_initial_and_periodic_conditions(name):
    """``u = u0 + t N`` with N periodic in x: the soft problem's initial residual and the periodicity residuals vanish
    for any weights, under taylor as under autograd (Schrödinger's u0 = 2 sech x has u_x(-5) ≠ u_x(5): the
    benchmark's own kink, so only its value periodicity is exact)."""
    make, period = PERIODIC[name]
    pde = make().double()
    assert [t.name for t in pde.terms()] == ["pde", "periodic"]
    torch.manual_seed(0)
    lower, upper = list(pde.domain.lower), list(pde.domain.upper)
    inner = MLP(2, len(pde.fields), 16, 2, lower=lower, upper=upper, axes=list(pde.axes), periodic={"x": period})
    net = Constrained(inner, pde.ansatz).double()
    gen = torch.Generator().manual_seed(0)
    soft = type(pde)(**({"periodic": True} if name == "burgers" else {})).double()
    ic = next(t for t in soft.terms() if t.name == "ic")
    x0 = pde.domain.sample("initial", 50, gen, torch.float64)
    xp = pde.domain.sample("periodic:x", 50, gen, torch.float64)
    periodic = pde.terms()[1]
    for backend in (Autograd(), Taylor()):
        assert ic.residual(backend(net, x0, ic.needs), x0).abs().max() < 1e-13
        r = periodic.residual(backend(net, xp, periodic.needs), xp)
        assert (r[..., :2] if name == "schrodinger" else r).abs().max() < 1e-11
