"""Weak inputs get messages that name the setting and the valid values: config types and ranges at the start
of a run, sizes that cannot fit within seconds, prediction's files, and the comparison of a sweep with crashed
runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pinnkit.build import build
from pinnkit.train import train
from tests.conftest import compose_cfg, predict_cli
from tests.test_runs import FAST

ROOT = Path(__file__).resolve().parents[1]

BAD = [
    ("model.width=abc", r"model\.width='abc' \(str\): model\.width must be an int \(pinnkit\.nets\.MLP takes width"),
    ("seed=1.5", r"seed=1\.5 \(float\): seed must be an int >= 0 and <= 4294967295"),
    ("seed=-3", r"seed must be an int >= 0"),
    ("threads=0", r"threads=0 \(int\): threads must be an int >= 1 \(or null\)"),
    ("threads=-1", r"threads must be an int >= 1"),
    ("trainer.val_check_interval=0", r"trainer\.val_check_interval must be an int >= 1"),
    ("trainer.val_check_interval=0.5", r"trainer\.val_check_interval=0\.5 \(float\).*an int"),
    ("trainer.log_every_n_steps=-1", r"trainer\.log_every_n_steps must be an int >= 0"),
    ("data.points.interior=1e9", r"data\.points\.interior=1000000000\.0 \(float\).*an int"),
    ("pde.kappa=abc", r"pde\.kappa='abc'.*a number \(pinnkit\.pdes\.Heat takes kappa: float\)"),
    ("+model.depht=3", r"model\.depht is not a setting of pinnkit\.nets\.MLP; valid: .*depth"),
    ("nonfinite=ignore", r"nonfinite='ignore' is not a valid choice; valid: stop, skip"),
    ("overwrite=maybe", r"overwrite='maybe' \(str\): overwrite must be true or false"),
]


@pytest.mark.parametrize(("override", "match"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_setting_is_named_with_its_valid_values(tmp_path, override, match):
    from pinnkit.config_checks import ConfigError

    with pytest.raises(ConfigError, match=match):
        train(compose_cfg(tmp_path, override))
    assert not list(tmp_path.iterdir())  # refused before the run directory was touched


def test_the_command_line_prints_the_named_setting(tmp_path):
    out = subprocess.run([sys.executable, "train.py", "model.width=abc", "logger=csv", f"hydra.run.dir={tmp_path}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode != 0 and "model.width must be an int" in out.stderr, out.stderr[-2000:]


def test_the_documented_periodic_override_works(tmp_path):
    module = build(compose_cfg(tmp_path, "model.periodic={x:2.0}"))
    t = torch.rand(5, 1, dtype=module.dtype)
    a = module.net.net(torch.cat([t, -torch.ones_like(t)], 1))
    b = module.net.net(torch.cat([t, torch.ones_like(t)], 1))
    torch.testing.assert_close(a, b)  # exactly periodic in x with period 2


@pytest.mark.parametrize(
    ("overrides", "match"),
    [(["data.points.interior=1000000000"], r"1,000,000,\d+ points per step\) need at least .* GiB .*this process"),
     (["pde.nt=100000", "pde.nx=100000"], r"validation grid of heat \(t: 100,000, x: 100,000: 10,000,000,000")],
)  # fmt: skip
def test_sizes_that_cannot_fit_fail_within_seconds_with_the_estimate(tmp_path, overrides, match):
    from pinnkit.config_checks import ConfigError

    start = time.perf_counter()
    with pytest.raises(ConfigError, match=match):
        train(compose_cfg(tmp_path, *overrides))
    assert time.perf_counter() - start < 20


def test_the_memory_limit_reads_the_cgroup_or_the_available_ram():
    from pinnkit.config_checks import memory_limit

    nbytes, where = memory_limit()
    assert 2**28 < nbytes < 2**63 and where in ("available RAM", "the cgroup limit memory.max",
                                                "the cgroup limit memory.limit_in_bytes")  # fmt: skip


@pytest.fixture(scope="module")
def heat_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("heat")
    train(compose_cfg(run, *FAST, "trainer.max_steps=2", "trainer.val_check_interval=2"))
    return run


def test_predict_reads_csv_and_npz_points_and_names_bad_files(tmp_path, heat_run, capsys):
    ckpt = str(heat_run / "checkpoints" / "last.ckpt")
    x = np.random.default_rng(0).random((4, 2))
    np.save(tmp_path / "x.npy", x)
    code, _, err = predict_cli(capsys, ckpt, str(tmp_path / "x.npy"), "--out", str(tmp_path / "ref.npz"))
    assert code == 0, err[-2000:]
    (tmp_path / "x.csv").write_text("x,t\n" + "\n".join(f"{b},{a}" for a, b in x))  # header in another order
    np.savez(tmp_path / "x.npz", x=x)
    for src in ("x.csv", "x.npz"):
        code, _, err = predict_cli(capsys, ckpt, str(tmp_path / src), "--out", str(tmp_path / f"{src}.npz"))
        assert code == 0, err[-2000:]
        np.testing.assert_allclose(np.load(tmp_path / f"{src}.npz")["u"], np.load(tmp_path / "ref.npz")["u"])
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    (tmp_path / "p.parquet").write_text("x")
    for bad, match in [("missing.npy", "does not exist"), ("s.npy", "<U1 values, not real numbers"),
                       ("p.parquet", "is not one of .npy, .npz, .csv, .txt")]:  # fmt: skip
        code, _, err = predict_cli(capsys, ckpt, str(tmp_path / bad))
        assert code == 2 and match in err, err[-2000:]
    code, _, err = predict_cli(capsys, str(heat_run / "checkpoints"), str(tmp_path / "x.npy"))
    assert code == 2 and "is a directory, not a checkpoint file" in err
    out = subprocess.run([sys.executable, "-m", "pinnkit.predict", ckpt, str(tmp_path / "missing.npy")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_predict_out_without_a_suffix_writes_and_prints_the_real_name(tmp_path, heat_run, capsys):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    ckpt = str(heat_run / "checkpoints" / "last.ckpt")
    code, out, _ = predict_cli(capsys, ckpt, str(tmp_path / "x.npy"), "--out", str(tmp_path / "p"))
    assert code == 0 and f"wrote {tmp_path / 'p.npz'}:" in out
    assert (tmp_path / "p.npz").is_file() and not (tmp_path / "p").exists()


def test_compare_runs_lists_crashed_and_truncated_runs(tmp_path, heat_run, capsys):
    import shutil

    from experiments.compare_runs import collect

    for name in ("0", "1", "2"):
        shutil.copytree(heat_run, tmp_path / name)
        (tmp_path / name / ".hydra").mkdir(exist_ok=True)
    (tmp_path / "1" / "summary.json").unlink()  # crashed
    path = tmp_path / "2" / "summary.json"
    path.write_text(path.read_text()[:50])  # truncated
    runs = {r["run"]: r["status"] for r in collect(tmp_path)}
    assert runs["0"] == "ok" and runs["1"].startswith("no summary.json (crashed")
    assert runs["2"].startswith("unreadable summary.json (JSONDecodeError")
    assert "warning: 2: unreadable summary.json" in capsys.readouterr().err
    json.loads((tmp_path / "0" / "summary.json").read_text())


def test_the_size_check_passes_a_run_that_fits_and_names_the_limit_it_compares_with(tmp_path):
    from pinnkit.config_checks import ConfigError, check_fits

    module = build(compose_cfg(tmp_path))
    check_fits(module)  # the default run fits this machine
    with pytest.raises(ConfigError, match=r"more than the 0\.000977 GiB this process may use \(a test limit\)"):
        check_fits(module, limit=(2**20, "a test limit"))
