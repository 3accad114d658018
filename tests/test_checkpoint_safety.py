"""Checkpoints run no code and are what they claim: weights_only loads, an allow-list for rebuilding, identity
and content hash checked on resume and prediction."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pinnkit.train import train
from tests.conftest import compose_cfg, predict_cli
from tests.test_runs import FAST

ROOT = Path(__file__).resolve().parents[1]
SHORT = [*FAST, "trainer.max_steps=4", "trainer.val_check_interval=2"]
TINY_BURGERS = ["pde=burgers", "pde.nt=11", "pde.nx=21", "pde.nodes=20"]  # a cheap reference for validation


@pytest.fixture(scope="module")
def heat_ckpt(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("heat")
    train(compose_cfg(run, *SHORT))
    return run / "checkpoints" / "last.ckpt"


class Payload:
    """Unpickling calls ``Path(marker).write_text("ran")``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def _predict_cli(ckpt: Path, points: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pinnkit.predict", str(ckpt), str(points), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_pickle_payload_runs_nothing_on_predict_or_resume(tmp_path, heat_ckpt):
    from pinnkit.checkpoints import CheckpointError, SafeCheckpointIO

    marker = tmp_path / "payload_ran"
    ckpt = torch.load(heat_ckpt, weights_only=True)
    ckpt["pinnkit"]["note"] = Payload(marker)
    crafted = tmp_path / "crafted.ckpt"
    torch.save(ckpt, crafted)
    np.save(tmp_path / "pts.npy", np.zeros((3, 2)))
    out = _predict_cli(crafted, tmp_path / "pts.npy")
    assert out.returncode != 0 and "weights_only=True" in out.stderr, out.stderr[-2000:]
    with pytest.raises(CheckpointError, match="weights_only=True"):
        train(compose_cfg(tmp_path / "resume", *SHORT, "trainer.max_steps=8", f"ckpt_path={crafted}"))
    with pytest.raises(CheckpointError, match="weights_only=True"):  # Lightning's own load in fit(ckpt_path=...)
        SafeCheckpointIO().load_checkpoint(crafted)
    assert not marker.exists()


def _with_config(src: Path, dst: Path, edit) -> Path:
    """A copy of checkpoint ``src`` whose stored config ``edit`` changes, re-hashed as an attacker would."""
    from pinnkit.checkpoints import content_hash

    ckpt = torch.load(src, weights_only=True)
    edit(ckpt["pinnkit"]["config"])
    ckpt["pinnkit"]["sha256"] = content_hash(ckpt)
    torch.save(ckpt, dst)
    return dst


HOSTILE = ["builtins.open", "pinnkit.atomic.write_text", "os.system", "pinnkit.pdes.base.Term",
           "torch.optim.swa_utils.AveragedModel"]  # fmt: skip


@pytest.mark.parametrize("target", HOSTILE)
def test_a_hostile_target_in_a_plain_data_config_is_refused(tmp_path, heat_ckpt, target, capsys):
    marker = tmp_path / "payload_ran"

    def edit(cfg):
        group = "optim" if target.startswith("torch.optim") else "model"
        node = cfg["optim"]["optimizer"] if group == "optim" else cfg["model"]
        node.clear()
        node.update({"_target_": target, "_args_": [str(marker), "w"]})

    crafted = _with_config(heat_ckpt, tmp_path / "crafted.ckpt", edit)
    np.save(tmp_path / "pts.npy", np.zeros((3, 2)))
    code, _, err = predict_cli(capsys, str(crafted), str(tmp_path / "pts.npy"))
    assert code == 2 and target in err and "--allow-target" in err, err[-2000:]
    from pinnkit.predict import load

    with pytest.raises(ValueError, match="allow_targets"):
        load(crafted)
    with pytest.raises(ValueError):  # resuming never builds the stored config; its identity differs
        train(compose_cfg(tmp_path / "resume", *SHORT, "trainer.max_steps=8", f"ckpt_path={crafted}"))
    assert not marker.exists()


def test_a_nested_target_or_an_interpolation_is_refused(tmp_path, heat_ckpt):
    from pinnkit.predict import load

    nested = _with_config(heat_ckpt, tmp_path / "a.ckpt", lambda c: c["model"].update(act={"_target_": "os.getcwd"}))
    with pytest.raises(ValueError, match=r"model\.act\._target_='os.getcwd'"):
        load(nested)
    interp = _with_config(heat_ckpt, tmp_path / "b.ckpt", lambda c: c["model"].update(activation="${oc.env:HOME}"))
    with pytest.raises(ValueError, match=r"interpolation at model\.activation"):
        load(interp)


def test_a_users_own_net_needs_its_package_allowed(tmp_path, monkeypatch):
    (tmp_path / "mynets.py").write_text("from pinnkit.nets import MLP\n\nclass Wide(MLP):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    run = tmp_path / "run"
    train(compose_cfg(run, *SHORT, "model._target_=mynets.Wide"))
    from pinnkit.predict import load

    ckpt = run / "checkpoints" / "last.ckpt"
    with pytest.raises(ValueError, match=r"model\._target_='mynets.Wide'.*allow_targets=\['<package>'\]"):
        load(ckpt)
    module = load(ckpt, allow_targets=["mynets"])
    assert type(module.net.net).__name__ == "Wide"  # inside heat's hard-constraint wrapper


def test_every_strategy_saves_and_loads_through_the_safe_io(tmp_path):
    from hydra.utils import instantiate

    from pinnkit.checkpoints import SafeCheckpointIO

    for trainer in ("cpu", "ddp"):
        cfg = compose_cfg(tmp_path, f"trainer={trainer}", "trainer.accelerator=cpu", "trainer.devices=2")
        io = SafeCheckpointIO()
        built = instantiate(cfg.trainer, plugins=[io], logger=False, enable_checkpointing=False)
        assert built.strategy.checkpoint_io is io, trainer


def test_resuming_another_pde_is_refused_naming_the_pde(tmp_path):
    from pinnkit.checkpoints import CheckpointError

    run = tmp_path / "burgers"
    train(compose_cfg(run, *SHORT, *TINY_BURGERS))
    ckpt = run / "checkpoints" / "last.ckpt"
    for other in ("advection", "allen_cahn", "heat", "wave"):  # the first two have the same net shapes
        with pytest.raises(CheckpointError, match=f"pde=burgers, this run is pde={other}"):
            train(compose_cfg(tmp_path / other, *SHORT, f"pde={other}", "trainer.max_steps=8", f"ckpt_path={ckpt}"))
        assert not (tmp_path / other / "summary.json").exists()


def _flip(src: Path, dst: Path, offsets: np.ndarray) -> None:
    data = bytearray(src.read_bytes())
    for o in offsets:
        data[o] ^= 0xFF
    dst.write_bytes(bytes(data))


def test_flipped_bytes_are_refused_as_corrupt(tmp_path, heat_ckpt):
    from pinnkit.checkpoints import CheckpointError, read_checkpoint

    data = heat_ckpt.read_bytes()
    state = torch.load(heat_ckpt, weights_only=True)["state_dict"]
    weight = next(v for k, v in state.items() if k.endswith("weight") and v.numel() >= 16)
    at = data.find(weight.numpy().tobytes()[:64])
    assert at > 0
    _flip(heat_ckpt, tmp_path / "w.ckpt", np.arange(at, at + 8))  # one weight's bytes: a valid file, other values
    with pytest.raises(CheckpointError, match="is corrupt: its content does not match the SHA-256"):
        read_checkpoint(tmp_path / "w.ckpt")
    rng = np.random.default_rng(0)
    for k in range(5):  # 400 random bytes anywhere: refused, whichever part they hit
        _flip(heat_ckpt, tmp_path / f"r{k}.ckpt", rng.choice(len(data), 400, replace=False))
        with pytest.raises(CheckpointError, match="corrupt"):
            read_checkpoint(tmp_path / f"r{k}.ckpt")


def test_other_optimizer_phases_or_too_few_steps_are_refused_unless_allowed(tmp_path):
    from pinnkit.checkpoints import CheckpointError

    run = tmp_path / "run"
    train(compose_cfg(run, *SHORT, "optim=adam_lbfgs", "optim.second_from=2", "optim.second.max_iter=2"))
    ckpt = f"ckpt_path={run}/checkpoints/last.ckpt"
    with pytest.raises(CheckpointError, match=r"optim\.second.*allow_resume_changes=true"):
        train(compose_cfg(tmp_path / "a", *SHORT, "optim=adam", "trainer.max_steps=8", ckpt))
    with pytest.raises(CheckpointError, match="max_steps=3 is at or below the checkpoint's step 4"):
        train(compose_cfg(tmp_path / "b", *SHORT, "optim=adam_lbfgs", "optim.second_from=2", "optim.second.max_iter=2",
                          "trainer.max_steps=3", ckpt))  # fmt: skip
    with pytest.warns(UserWarning, match="deliberate changes"):
        summary = train(compose_cfg(tmp_path / "c", *SHORT, "optim=adam", "trainer.max_steps=6", ckpt,
                                    "allow_resume_changes=true"))  # fmt: skip
    assert summary["steps"] == 6


def test_a_checkpoint_directory_is_named_as_such(tmp_path, heat_ckpt):
    from pinnkit.checkpoints import CheckpointError, read_checkpoint

    with pytest.raises(CheckpointError, match=r"is a directory, not a checkpoint file; it holds .*last\.ckpt"):
        read_checkpoint(heat_ckpt.parent)
