"""The README and docs/ say what runs: the README's tour runs, every `python train.py` command in them composes and
passes the config checks (and runs, short, in the slow suite), the worked PDE example trains, every link resolves."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shlex
import subprocess
import sys
from itertools import product
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

import pinnkit
from pinnkit.config_checks import check_config
from pinnkit.derivatives import Autograd
from pinnkit.train import CONF_DIR, train
from tests.conftest import compose_cfg, predict_cli
from tests.test_train import SHORT

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NETWORK = ("logger.offline=false",)  # commands that need a network: composed, not run


def blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(), re.S)


def commands(path: Path) -> list[str]:
    """The shell commands of ``path``'s bash blocks, comments stripped."""
    out = []
    for block in blocks(path, "bash"):
        for line in block.splitlines():
            line = line.split(" # ")[0].split("  #")[0].strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def train_overrides(cmd: str) -> list[list[str]] | None:
    """The override lists a ``python train.py`` (or ``torchrun ... train.py``) command runs (a multirun expanded),
    or ``None`` for another command. Placeholders (``RUN``, ``<date>``) become a stand-in path."""
    words = shlex.split(cmd.replace("<", "_").replace(">", "_"))
    if words[:1] == ["torchrun"] and "train.py" in words:  # torchrun's own options, then the script's
        words = ["python", *words[words.index("train.py") :]]
    if words[:2] != ["python", "train.py"]:
        return None
    over = [w for w in words[2:] if w not in ("-m", "--multirun")]
    choices = [[f"{w.split('=', 1)[0]}={v}" for v in w.split("=", 1)[1].split(",")] if "," in w and "[" not in w
               and "{" not in w else [w] for w in over]  # fmt: skip
    return [list(c) for c in product(*choices)]


ALL_TRAIN = [(p.name, cmd, ov) for p in DOCS for cmd in commands(p) if (runs := train_overrides(cmd)) for ov in runs]


def docs_cfg(tmp_path: Path, overrides: list[str]):
    hydra = [o for o in overrides if o.startswith("hydra")]
    own = [o for o in overrides if not o.startswith(("hydra", "ckpt_path=", "init_weights="))]  # placeholder paths
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(
            "train", overrides=[f"paths.output_dir={tmp_path}", *own, *hydra], return_hydra_config=bool(hydra)
        )
    with open_dict(cfg):
        cfg.pop("hydra", None)
    return cfg


@pytest.mark.parametrize(("doc", "cmd", "overrides"), ALL_TRAIN, ids=[f"{d}:{' '.join(o)}" for d, _, o in ALL_TRAIN])
def test_every_documented_train_command_composes_and_passes_the_checks(tmp_path, doc, cmd, overrides):
    cfg = docs_cfg(tmp_path, overrides)
    OmegaConf.resolve(cfg)  # every interpolation resolves
    check_config(cfg)


@pytest.mark.slow
@pytest.mark.parametrize(("doc", "cmd", "overrides"), ALL_TRAIN, ids=[f"{d}:{' '.join(o)}" for d, _, o in ALL_TRAIN])
def test_every_documented_train_command_runs_short(tmp_path, doc, cmd, overrides):
    if any(o.startswith(("hydra", "trainer=gpu", "trainer=ddp", "trainer=multinode", *NETWORK)) for o in overrides):
        pytest.skip("needs a GPU, a cluster or a network: composed by the fast test")
    k = int(next((o.split("=")[1] for o in overrides if o.startswith("steps_per_batch=")), 1))  # cadence in K steps
    short = ["logger=csv", f"trainer.max_steps={4 * k}", f"trainer.val_check_interval={2 * k}",
             f"trainer.log_every_n_steps={k}", "trainer.max_time=null",
             "trainer.enable_progress_bar=false", "data.points.interior=32", "data.points.initial=8",
             "data.points.boundary=8", "data.points.periodic=8", "data.val_points=16", "checks=false"]  # fmt: skip
    cfg = docs_cfg(tmp_path, [*overrides, *short, "optim.second_from=2" if "optim=adam" not in overrides else "seed=0"])
    summary = train(cfg)
    assert math.isfinite(summary[summary["objective"]])


def test_the_readme_tour_runs(tmp_path, capsys):
    """The tour's train commands (short as written; the online one composed), resume, predict and Python."""
    cmds = commands(ROOT / "README.md")
    runs = [train_overrides(c) for c in cmds if train_overrides(c)]
    assert len(runs) == 5
    first = tmp_path / "run"
    summary = train(docs_cfg(first, [*runs[0][0], "trainer.enable_progress_bar=false"]))
    assert summary["steps"] == 200
    for k, over in enumerate(runs[1:3]):  # a backend, a sweep (each job)
        for j, ov in enumerate(over):
            assert train(docs_cfg(tmp_path / f"r{k}{j}", [*ov, "trainer.enable_progress_bar=false"]))["steps"] > 0
    check_config(docs_cfg(tmp_path / "online", runs[3][0]))  # online W&B needs a network: composed
    resume = [o.replace("RUN", str(first)) for o in runs[4][0]]
    cfg = docs_cfg(first, [*resume, "trainer.enable_progress_bar=false"])
    with open_dict(cfg):
        cfg.ckpt_path = next(o for o in resume if o.startswith("ckpt_path=")).split("=", 1)[1]
    assert train(cfg)["steps"] == 400
    predict = next(c for c in cmds if "pinnkit.predict" in c).replace("RUN", str(first))
    args = shlex.split(predict)[3:]
    np.save(tmp_path / "points.npy", np.random.default_rng(0).random((10, 2)))
    args = [str(tmp_path / a) if a in ("points.npy", "pred.npz") else a for a in args]
    code, _, err = predict_cli(capsys, *args)
    assert code == 0, err
    assert np.load(tmp_path / "pred.npz")["u_x"].shape == (10,)
    code = blocks(ROOT / "README.md", "python")[0].replace('"outputs/tour', f'"{tmp_path}/tour')
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["jac"].shape == (128, 3, 2) and scope["u"].shape == (10,)
    assert scope["d"]["u_x"].shape == (128,) and scope["summary"]["steps"] == 50


def test_the_front_door_differentiates_any_output_width():
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 10)).double()
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    for name in sorted(pinnkit.BACKENDS):
        d = pinnkit.differentiate(net, x, ("jac",), backend=name)
        assert d.jac.shape == (4, 5, 10, 3) and d.fields[0] == "u0", name
    ref = pinnkit.differentiate(net, x, ("hess",)).hess
    torch.testing.assert_close(pinnkit.differentiate(net, x, ("hess",), backend="taylor").hess, ref)
    with pytest.raises(KeyError, match=r"unknown field 'u' in 'u_x'; the fields are \('u0'"):
        pinnkit.differentiate(net, x, ("u_x",))


def test_the_front_door_keeps_the_submodules_importable():
    code = (
        "import runpy, sys, pinnkit, pinnkit.predict, pinnkit.train; "
        "print(type(pinnkit.predict).__name__, type(pinnkit.train).__name__, pinnkit.__version__); "
        "sys.argv = ['pinnkit.predict', '--help']; runpy.run_module('pinnkit.predict', run_name='__main__')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]  # python -m pinnkit.predict --help, after the front door
    assert out.stdout.split()[:3] == ["module", "module", pinnkit.__version__] and "--needs" in out.stdout


def test_every_other_documented_command_names_what_exists():
    for path in DOCS:
        for cmd in commands(path):
            words = shlex.split(cmd.replace("<", "_").replace(">", "_"))
            if words[:1] == ["python"] and words[1].endswith(".py"):
                assert (ROOT / words[1]).is_file(), f"{path.name}: {cmd}"
            elif words[:2] == ["python", "-m"]:
                assert importlib.util.find_spec(words[2]) is not None, f"{path.name}: {cmd}"
            elif words[:1] == ["make"]:
                assert re.search(rf"^{words[1]}:", (ROOT / "Makefile").read_text(), re.M), f"{path.name}: {cmd}"


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_resolves():
    for path in DOCS:
        text = path.read_text()
        assert "../shared" not in text and "http" not in text.replace("https://wandb.ai", ""), path.name
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            assert dest.exists(), f"{path.name}: {target}"
            if anchor and dest.suffix == ".md":
                heads = {slug(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(), re.M)}
                assert anchor in heads, f"{path.name}: #{anchor} not among {sorted(heads)[:8]}"
        if path.name == "README.md":
            assert len(text.encode()) <= 10_000


def _example_module(tmp_path):
    code = blocks(ROOT / "docs" / "adding_a_pde.md", "python")[0]
    (tmp_path / "fisher_example.py").write_text(code)
    sys.path.insert(0, str(tmp_path))
    try:
        import fisher_example
    finally:
        sys.path.remove(str(tmp_path))
    return fisher_example


def test_the_worked_pde_example_is_correct_and_trains(tmp_path):
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


def users_project(tmp_path: Path) -> tuple[Path, list[str]]:
    """The guide's user project written out in ``tmp_path/myproject`` (the class as ``fisher.py``, its config as
    ``conf/pde/fisher.yaml``) and the words of its first documented ``pinnkit-train`` command."""
    doc = ROOT / "docs" / "adding_a_pde.md"
    project = tmp_path / "myproject"
    (project / "conf" / "pde").mkdir(parents=True)
    (project / "fisher.py").write_text(blocks(doc, "python")[0])
    (project / "conf" / "pde" / "fisher.yaml").write_text(blocks(doc, "yaml")[0])
    return project, shlex.split(next(c for c in commands(doc) if c.startswith("pinnkit-train")))


def test_a_pde_in_a_users_own_project_trains_with_pinnkit_untouched(tmp_path):
    """The guide's steps, literally, in a fresh directory outside the repository: the class as ``fisher.py``, its
    config as ``conf/pde/fisher.yaml``, then the first documented ``pinnkit-train`` command (made short), through
    the installed console script with no ``PYTHONPATH``."""
    project, words = users_project(tmp_path)
    exe = Path(sys.executable).parent / words[0]
    assert exe.is_file(), f"{words[0]} is not installed beside {sys.executable}: pip install -e ."
    short = ["pde.nt=11", "pde.nx=21", "logger=csv", *SHORT, f"hydra.run.dir={tmp_path / 'run'}"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(exe), *words[1:], *short], cwd=project, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["pde"] == "fisher" and summary["config"]["pde"]["_target_"] == "fisher.Fisher"
    assert summary["steps"] == 4 and math.isfinite(summary["val/l2_rel"])
