"""Each PDE's exact solution satisfies all its terms under every backend that takes plain functions (float64);
``taylor`` gives the same residuals as ``autograd`` on every PDE with the shipped networks."""

from __future__ import annotations

import math

import pytest
import torch

from pinnkit.derivatives import Autograd, Taylor, UnsupportedRequest
from pinnkit.derivatives.names import make_request
from pinnkit.nets import ACTIVATIONS, MLP
from pinnkit.pdes import PDE, PDES, Heat

NAMES = sorted(PDES)
CLOSED_FORM = sorted(n for n, cls in PDES.items() if cls.closed_form and cls.exact is not PDE.exact)  # fmt: skip
# (numerical references: test_references.py; no reference: test_no_reference.py)
# the inverse problem's ν set to the true value; the high-dimensional Poisson in d = 6 (every backend, the dense
# reference too: its d = 100 default is tested in test_highdim.py); Fokker–Planck in d = 6 with its initial term;
# Allen–Cahn in d = 6
AT_TRUTH = {"burgers_inverse": {"nu_init": 0.01 / math.pi}, "poisson_hd": {"d": 6},
            "fokker_planck": {"d": 6, "hard": False}, "allen_cahn_hd": {"d": 6}}  # fmt: skip


def _points(pde, term, n, gen):
    if term.region == "data":
        return pde.data_points()  # all of them: the data residual pairs them with their observations
    return pde.domain.sample(term.region, n, gen, torch.float64)


@pytest.mark.parametrize("pde_name", CLOSED_FORM)
def test_exact_solution_zeroes_every_term(callable_backend, pde_name):
    backend = callable_backend
    pde = PDES[pde_name](**AT_TRUTH.get(pde_name, {})).double()
    gen = torch.Generator().manual_seed(0)
    for term in pde.terms():
        x = _points(pde, term, 64, gen)
        order = make_request(term.needs, pde.fields, pde.axes).order
        if backend.max_order is not None and order > backend.max_order:  # (dense: second order) refused, named
            with pytest.raises(UnsupportedRequest, match=f"up to order {backend.max_order}"):
                backend(pde.exact, x, term.needs, axes=pde.axes, fields=pde.fields)
            continue
        d = backend(pde.exact, x, term.needs, axes=pde.axes, fields=pde.fields)
        r = term.residual(d, x)
        assert r.shape[0] == x.shape[0]  # one residual (or a row of them) per point, or per periodic pair
        assert r.abs().max() <= 1e-6, f"{pde_name}/{term.name}: max |residual| = {r.abs().max():.2e}"


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("pde_name", NAMES)
def test_taylor_residuals_match_autograd(pde_name, activation):
    pde = PDES[pde_name]().double()
    torch.manual_seed(0)
    lo, hi = pde.domain.lower, pde.domain.upper
    net = MLP(len(pde.axes), len(pde.fields), 12, 2, activation, True, lo, hi).double()
    gen = torch.Generator().manual_seed(1)
    for term in pde.terms():
        x = _points(pde, term, 32, gen)
        ref = term.residual(Autograd()(net, x, term.needs, axes=pde.axes, fields=pde.fields), x)
        got = term.residual(Taylor()(net, x, term.needs, axes=pde.axes, fields=pde.fields), x)
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("pde_name", CLOSED_FORM)
def test_a_wrong_solution_does_not_zero_the_residual(pde_name):
    """The residual test above can fail: a perturbed solution leaves a clear residual."""
    pde = PDES[pde_name]().double()
    term = pde.terms()[0]
    x = pde.domain.sample(term.region, 64, torch.Generator().manual_seed(0), torch.float64)
    from pinnkit.derivatives import Autograd

    d = Autograd()(lambda z: pde.exact(z) * (1 + 0.1 * z[..., :1]), x, term.needs, axes=pde.axes, fields=pde.fields)
    assert term.residual(d, x).abs().max() > 1e-3


@pytest.mark.parametrize("pde_name", CLOSED_FORM)
def test_every_field_is_pinned_down_not_free_up_to_a_constant(pde_name):
    """The exact solution plus a constant in any one field violates some term: otherwise that field is determined
    only up to the constant and its rel L2 is meaningless (Kovasznay's pressure once was)."""
    pde = PDES[pde_name](**AT_TRUTH.get(pde_name, {})).double()
    gen = torch.Generator().manual_seed(0)
    for i, field in enumerate(pde.fields):
        shift = torch.zeros(len(pde.fields), dtype=torch.float64)
        shift[i] = 0.5
        worst = 0.0
        for term in pde.terms():
            x = _points(pde, term, 64, gen)
            d = Autograd()(lambda z, s=shift: pde.exact(z) + s, x, term.needs, axes=pde.axes, fields=pde.fields)
            worst = max(worst, float(term.residual(d, x).detach().abs().max()))
        assert worst > 1e-3, f"{pde_name}: {field} + const satisfies every term"


def test_heat_exact_values_and_grid():
    pde = Heat(kappa=0.1)
    coords, mesh = pde.grid()
    assert mesh.shape == (101, 201, 2) and coords["x"][0] == -1 and coords["t"][-1] == 1
    u = pde.exact(mesh)
    assert u.shape == (101, 201, 1)
    torch.testing.assert_close(u[0, :, 0], torch.sin(torch.pi * coords["x"]))
    with pytest.raises(ValueError, match="kappa must be > 0"):
        Heat(kappa=0)
