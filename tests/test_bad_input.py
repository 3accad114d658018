"""Bad input gives one clear error (or a clean fallback) and leaves nothing half-written; property tests over
random shapes and nets: every backend agrees with autograd and respects batch independence."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from pinnkit.build import build
from pinnkit.derivatives import BACKENDS, get_backend
from pinnkit.train import check_precision, matmul_precision, train
from tests.conftest import compose_cfg

SHORT = ["trainer.max_steps=2", "trainer.val_check_interval=2", "trainer.enable_progress_bar=false", "model.width=8"]


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed", "bf16-true"])
def test_half_precision_is_refused_with_the_reason(tmp_path, precision):
    with pytest.raises(ValueError, match=r"second derivatives.*mantissa.*allow_low_precision=true"):
        train(compose_cfg(tmp_path, f"trainer.precision={precision}", *SHORT))
    assert not (tmp_path / "summary.json").exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_precision(compose_cfg(tmp_path, f"trainer.precision={precision}", "allow_low_precision=true"))
    assert any("mantissa" in str(w.message) for w in caught)


def test_matmul_precision_is_set_for_the_run_and_restored():
    before = torch.get_float32_matmul_precision()
    with matmul_precision("high"):
        assert torch.get_float32_matmul_precision() == "high"
    assert torch.get_float32_matmul_precision() == before == "highest"
    with pytest.raises(ValueError, match="highest"), matmul_precision("tf32"):
        pass


def test_unwritable_output_dir(tmp_path):
    """A path under a regular file cannot be created (as any user, root included)."""
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OSError, match="cannot write the run directory"):
        train(compose_cfg(f / "run", *SHORT))


def test_network_of_the_wrong_size_for_the_pde(tmp_path):
    import lightning as L

    for net, match in ((nn.Linear(3, 1), r"does not take points of heat \(shape \(N, 2\)"),
                       (nn.Linear(2, 3), r"needs 1 output fields \('u',\)")):  # fmt: skip
        module = build(compose_cfg(tmp_path, *SHORT))
        module.net = net
        trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            inference_mode=False)  # fmt: skip
        with pytest.raises(ValueError, match=match):
            trainer.fit(module)


def test_online_wandb_without_a_login_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    import wandb

    try:
        with pytest.raises(Exception, match=r"(?i)api key|login"):
            train(compose_cfg(tmp_path / "run", "logger=wandb", "logger.offline=false", *SHORT))
    finally:
        wandb.teardown()  # wandb keeps process-wide settings; later runs in this process start clean
    assert not (tmp_path / "run" / "summary.json").exists()


GENERIC = sorted(n for n, cls in BACKENDS.items() if cls.any_callable and n != "auto")


@settings(max_examples=12, deadline=None)
@given(
    d=st.integers(1, 3),
    m=st.integers(1, 3),
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    width=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_property_backends_agree_and_keep_points_apart(d, m, lead, width, seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(d, width), nn.Tanh(), nn.Linear(width, m)).double()
    x = torch.randn(*lead, 3, d, dtype=torch.float64)
    ref = get_backend("autograd")(net, x)
    for name in [*GENERIC, "taylor"]:
        out = get_backend(name)(net, x)
        torch.testing.assert_close(out.jac, ref.jac, rtol=1e-9, atol=1e-10, msg=name)
        torch.testing.assert_close(out.hess, ref.hess, rtol=1e-9, atol=1e-10, msg=name)
    bumped = x.clone()
    bumped[..., 0, :] += 0.5  # perturb one point per batch: every other point's derivatives must not move
    out = get_backend("autograd")(net, bumped)
    torch.testing.assert_close(out.hess[..., 1:, :, :, :], ref.hess[..., 1:, :, :, :], rtol=0, atol=0)
