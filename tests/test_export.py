"""``python -m pinnkit.export``: the exported network (normalization, embedding and ansatz inside) gives the trained
network's values at any number of points, loaded without pinnkit; bad formats and a missing onnx are refused."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from pinnkit.export import ExportError, export, main
from pinnkit.predict import load
from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_train import SHORT

LOADERS = {"torchscript": torch.jit.load, "exported-program": lambda p: torch.export.load(p).module()}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A short heat run with the hard-constraint ansatz and a periodic embedding in x (both must be exported)."""
    out = tmp_path_factory.mktemp("run")
    train(compose_cfg(out, "pde=heat", "model.periodic={x:2.0}", "trainer.precision=64", *SHORT))
    return out / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize("fmt", sorted(LOADERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_exported_network_gives_the_trained_values(tmp_path, checkpoint, fmt, dtype):
    path = export(checkpoint, fmt, tmp_path / f"net.{fmt}", dtype=dtype)
    meta = json.loads((tmp_path / f"net.{fmt}.json").read_text())
    assert meta == {"format": fmt, "axes": ["t", "x"], "fields": ["u"], "dtype": dtype, "pde": "heat",
                    "checkpoint": str(checkpoint)}  # fmt: skip
    real = getattr(torch, dtype)
    x = torch.rand(1000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 2 - 1  # N != 64
    x[:, 0] = (x[:, 0] + 1) / 2  # t in [0, 1]
    ref = load(checkpoint).net.to(real)(x.to(real)).detach()
    got = LOADERS[fmt](str(path))(x.to(real))
    assert got.dtype == real and got.shape == (1000, 1)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-6 if dtype == "float32" else 1e-12)


def test_onnx_without_its_packages_names_the_fix(tmp_path, checkpoint, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    with pytest.raises(ExportError, match=r"needs the onnx and onnxscript packages .*pip install onnx onnxscript"):
        export(checkpoint, "onnx", tmp_path / "net.onnx")
    assert not (tmp_path / "net.onnx").exists()


def test_bad_settings_name_the_valid_choices(tmp_path, checkpoint, capsys):
    with pytest.raises(ExportError, match=r"unknown export format 'tfl'; valid: torchscript, exported-program, onnx"):
        export(checkpoint, "tfl", tmp_path / "net")
    with pytest.raises(ExportError, match=r"unknown dtype 'float16'; valid: float32, float64"):
        export(checkpoint, "torchscript", tmp_path / "net", dtype="float16")
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "missing.ckpt"), "--format", "torchscript"])
    assert exit_.value.code == 2 and "missing.ckpt" in capsys.readouterr().err
    main([str(checkpoint), "--format", "torchscript", "--out", str(tmp_path / "cli.pt")])
    assert (tmp_path / "cli.pt").is_file() and "wrote" in capsys.readouterr().out
