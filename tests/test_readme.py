"""The README's worked example of adding a PDE runs: its exact solution zeroes its terms, and it trains."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf, open_dict

from pinnkit.derivatives import Autograd
from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_train import SHORT

README = Path(__file__).resolve().parents[1] / "README.md"


def _example_module(tmp_path):
    text = README.read_text()
    section = text[text.index("## Adding a PDE") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "fisher_example.py").write_text(code)
    sys.path.insert(0, str(tmp_path))
    try:
        import fisher_example
    finally:
        sys.path.remove(str(tmp_path))
    return fisher_example


def test_readme_pde_example_is_correct_and_trains(tmp_path):
    pde = _example_module(tmp_path).Fisher().double()
    gen = torch.Generator().manual_seed(0)
    for term in pde.terms():
        x = pde.domain.sample(term.region, 64, gen, torch.float64)
        r = term.residual(Autograd()(pde.exact, x, term.needs, axes=pde.axes, fields=pde.fields), x)
        assert r.abs().max() < 1e-12, term.name
    cfg = compose_cfg(tmp_path, "derivative=taylor", *SHORT)
    with open_dict(cfg):
        cfg.pde = OmegaConf.create({"_target_": "fisher_example.Fisher", "nt": 11, "nx": 21})
    sys.path.insert(0, str(tmp_path))
    try:
        summary = train(cfg)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("fisher_example", None)
    assert summary["pde"] == "fisher" and math.isfinite(summary["val/l2_rel"]) and "train/loss_bc" in summary
    assert summary["derivative"] == "taylor"  # pinnkit's own networks carry the example through the Taylor backend
