"""Unit-cube samplers (uniform, Sobol, Latin hypercube) and residual-based adaptive selection."""

from __future__ import annotations

import pytest
import torch

from pinnkit.domain import Box
from pinnkit.sampling import SAMPLERS, adaptive_choice, unit_cube


@pytest.mark.parametrize("kind", SAMPLERS)
def test_samplers_fill_the_unit_cube_reproducibly(kind):
    a = unit_cube(kind, 256, 3, torch.Generator().manual_seed(0), torch.float64, torch.device("cpu"))
    b = unit_cube(kind, 256, 3, torch.Generator().manual_seed(0), torch.float64, torch.device("cpu"))
    c = unit_cube(kind, 256, 3, torch.Generator().manual_seed(1), torch.float64, torch.device("cpu"))
    assert a.shape == (256, 3) and a.dtype == torch.float64 and (a >= 0).all() and (a < 1).all()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_latin_hypercube_puts_one_point_in_each_stratum():
    x = unit_cube("lhs", 100, 4, torch.Generator().manual_seed(0), torch.float64, torch.device("cpu"))
    for axis in range(4):
        assert sorted((x[:, axis] * 100).floor().long().tolist()) == list(range(100))


def test_quasi_random_points_integrate_better_than_uniform():
    """Mean of f(x) = Π sin(πx_i)·π/2 (integral 1) over 1024 points in 2-D, 20 seeds: Sobol's and LHS's errors
    are well below plain Monte Carlo's."""
    f = lambda x: (torch.sin(torch.pi * x) * torch.pi / 2).prod(-1)  # noqa: E731
    err = {}
    for kind in SAMPLERS:
        e = [(f(unit_cube(kind, 1024, 2, torch.Generator().manual_seed(s), torch.float64, torch.device("cpu")))
              .mean() - 1).abs() for s in range(20)]  # fmt: skip
        err[kind] = torch.stack(e).mean().item()
    assert err["sobol"] < err["uniform"] / 5 and err["lhs"] < err["uniform"] / 2, err
    assert err["hammersley"] < err["uniform"] / 5, err


def test_hammersley_points_are_the_shifted_hammersley_set():
    """Axis 0 the evenly spaced ``i / n``, axis 1 base 2's radical inverse (0, 1/2, 1/4, 3/4, ...), axis 2 base 3's
    (0, 1/3, 2/3, 1/9, ...), all shifted by one vector modulo 1."""
    x = unit_cube("hammersley", 8, 3, torch.Generator().manual_seed(0), torch.float64, torch.device("cpu"))
    shift = x[0]  # point 0 is the origin before the shift
    raw = (x - shift) % 1.0
    torch.testing.assert_close(raw[:, 0], torch.arange(8, dtype=torch.float64) / 8)
    torch.testing.assert_close(raw[:, 1], torch.tensor([0, 4, 2, 6, 1, 5, 3, 7], dtype=torch.float64) / 8)
    torch.testing.assert_close(raw[:4, 2], torch.tensor([0, 3, 6, 1], dtype=torch.float64) / 9)
    with pytest.raises(ValueError, match="up to 17 dimensions, got 18"):
        unit_cube("hammersley", 4, 18, torch.Generator(), torch.float64, torch.device("cpu"))


def test_box_sampling_with_every_sampler_and_a_bad_name():
    box = Box({"t": (0.0, 1.0), "x": (-1.0, 1.0)})
    for kind in SAMPLERS:
        x = box.sample("initial", 64, torch.Generator().manual_seed(0), torch.float64, sampler=kind)
        assert (x[:, 0] == 0).all() and (x[:, 1].abs() <= 1).all()
    with pytest.raises(
        ValueError, match=r"unknown sampler 'halton'; valid: \('uniform', 'sobol', 'lhs', 'hammersley'\)"
    ):
        box.sample("interior", 4, torch.Generator(), sampler="halton")


def test_adaptive_choice_prefers_large_residuals_and_never_repeats():
    r = torch.ones(1000, dtype=torch.float64)
    r[:100] = 50.0  # 10% of the candidates carry most of the residual
    idx = adaptive_choice(r, 200, k=1.0, c=1.0, gen=torch.Generator().manual_seed(0))
    assert idx.unique().numel() == 200
    share = (idx < 100).double().mean().item()
    assert share > 0.35  # uniform would give 0.10; p ∝ r/mean(r) + c gives the big ones ~7x the weight
    flat = adaptive_choice(r, 200, k=0.0, c=1.0, gen=torch.Generator().manual_seed(0))  # k = 0: uniform
    assert (flat < 100).double().mean().item() < 0.2
    nan = torch.full((50, 2), float("nan"))
    assert adaptive_choice(nan, 10, 1.0, 1.0, torch.Generator()).unique().numel() == 10  # falls back to uniform
