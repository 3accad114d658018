"""Every config combination composes and builds; bad overrides fail with messages naming valid choices."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException, InstantiationException, MissingConfigException

from pinnkit.build import build
from pinnkit.train import CONF_DIR
from tests.conftest import compose_cfg

CONF = Path(CONF_DIR)
PDES = sorted(p.stem for p in (CONF / "pde").glob("*.yaml"))
BACKENDS = sorted(p.stem for p in (CONF / "derivative").glob("*.yaml"))
TRAINERS = sorted(p.stem for p in (CONF / "trainer").glob("*.yaml"))
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))


def test_config_groups_match_the_registries():
    from pinnkit.derivatives import BACKENDS as REGISTERED
    from pinnkit.pdes import PDES as PDE_CLASSES

    assert set(BACKENDS) == set(REGISTERED)
    assert set(PDES) == set(PDE_CLASSES)


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("derivative", BACKENDS)
@pytest.mark.parametrize("pde", PDES)
def test_every_combination_composes_and_builds(tmp_path, pde, derivative, trainer):
    cfg = compose_cfg(tmp_path, f"pde={pde}", f"derivative={derivative}", f"trainer={trainer}")
    module = build(cfg)
    assert module.pde.name == pde and module.derivative.name == derivative
    assert cfg.trainer._target_ == "lightning.Trainer"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("pde", PDES)
def test_every_model_builds_for_every_pde_and_serves_taylor(tmp_path, pde, model):
    import torch

    from pinnkit.derivatives import Autograd, Taylor

    module = build(compose_cfg(tmp_path, f"pde={pde}", f"model={model}", "model.width=8", "model.depth=2"))
    net, p = module.net.double(), module.pde
    x = p.domain.sample("interior", 5, torch.Generator().manual_seed(0), torch.float64)
    needs = p.terms()[0].needs
    ref, got = (b(net, x, needs, axes=p.axes, fields=p.fields) for b in (Autograd(), Taylor()))
    for n in needs:
        torch.testing.assert_close(got[n], ref[n], rtol=0, atol=1e-10)


def test_dense_config_uses_small_point_sets(tmp_path):
    cfg = compose_cfg(tmp_path, "derivative=dense")
    assert cfg.derivative.max_points >= max(cfg.data.points.interior, cfg.data.val_points)
    default = compose_cfg(tmp_path)
    # the derivative group composes after trainer, so dense's step cap wins over trainer/cpu
    assert cfg.trainer.max_steps < default.trainer.max_steps
    assert compose_cfg(tmp_path, "derivative=dense", "trainer.max_steps=7").trainer.max_steps == 7


def test_unknown_choice_lists_the_valid_ones(tmp_path):
    with pytest.raises(MissingConfigException, match=r"(?s)Could not find 'pde/nope'.*heat"):
        compose_cfg(tmp_path, "pde=nope")
    with pytest.raises(MissingConfigException, match=r"(?s)derivative/fast.*autograd.*func_fwd"):
        compose_cfg(tmp_path, "derivative=fast")


def test_unknown_key_is_refused(tmp_path):
    with pytest.raises(ConfigCompositionException, match="max_stepz"):
        compose_cfg(tmp_path, "trainer.max_stepz=3")


def test_bad_values_give_clear_errors(tmp_path):
    with pytest.raises(InstantiationException, match=r"unknown activation 'relu6'; valid: \["):
        build(compose_cfg(tmp_path, "model.activation=relu6"))
    with pytest.raises(ValueError, match=r"unknown terms \['icc'\]; the terms of heat are \['pde', 'ic', 'bc'\]"):
        build(compose_cfg(tmp_path, "pde.hard=false", "+loss_weights.icc=10"))
    with pytest.raises(InstantiationException, match="width must be >= 1"):
        build(compose_cfg(tmp_path, "model.width=0"))
    with pytest.raises(ValueError, match=r"data\.points\.initial \(or data\.points\.ic, for this term alone\) >= 1"):
        build(compose_cfg(tmp_path, "pde.hard=false", "data.points.initial=0"))


def test_cli_rejects_unknown_pde_with_the_list(tmp_path):
    root = Path(CONF_DIR).parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "train.py"), "pde=nope", f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Could not find 'pde/nope'" in proc.stderr and "heat" in proc.stderr
    assert not (tmp_path / "summary.json").exists()
