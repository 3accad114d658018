"""The accuracy recipes compose and train, and ``experiments/accuracy.py`` runs them and writes its table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate

from experiments import accuracy
from experiments.accuracy import BEGIN, END, main, markdown, recipes, stale
from pinnkit.train import train
from tests.conftest import SMALL_GRIDS, compose_cfg

TINY = ["trainer.max_steps=4", "trainer.val_check_interval=2", "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false", "model.width=8", "model.depth=2", "data.points.interior=64",
        "data.points.initial=32", "data.points.boundary=32", "data.points.periodic=32", "data.val_points=64",
        "optim.second_from=2", "optim.second.max_iter=3"]  # fmt: skip


def _tiny(name: str) -> list[str]:
    """TINY for recipe ``name``, without the second-phase settings where the recipe has no second phase."""
    second = "second_from" in compose_cfg(Path("/unused"), f"experiment={name}").optim
    return [o for o in TINY if second or not o.startswith("optim.second")]


def test_there_are_recipes():
    assert "burgers" in recipes()


@pytest.mark.parametrize("name", recipes())
def test_every_recipe_composes_and_trains_a_few_steps(tmp_path, name):
    """Each recipe selects its PDE and trains (Adam, then L-BFGS) with its own settings, shrunk and eager (the
    compiled step of every recipe's PDE and model is traced by test_compile_step_is_one_graph, and trained with
    inductor by the slow test below)."""
    cfg = compose_cfg(tmp_path, f"experiment={name}", *_tiny(name), "compile_step=false", *SMALL_GRIDS.get(name, []))
    assert cfg.pde._target_.lower().endswith(name.replace("_", ""))
    marching = bool(cfg.march.windows)
    if marching:  # time-marching windows, a run each: two of them, then the march's summary and the last window's
        cfg.march.windows = 2
    summary = train(cfg)
    if marching:
        assert summary["steps"] == 8 and math.isfinite(summary["val/l2_rel"])
        summary = json.loads((tmp_path / "window_1" / "summary.json").read_text())
    assert summary["steps"] == 4 and math.isfinite(summary[summary["objective"]])  # val/loss without a reference
    assert all(math.isfinite(summary[f"train/loss_{t.name}"]) for t in instantiate(cfg.pde).terms())


@pytest.mark.slow
@pytest.mark.parametrize("name", [r for r in recipes() if compose_cfg(Path("/unused"), f"experiment={r}").compile_step])
def test_every_compiled_recipe_trains_a_few_compiled_steps(tmp_path, name):
    summary = train(compose_cfg(tmp_path, f"experiment={name}", *_tiny(name), "march.windows=0"))  # one window
    assert summary["steps"] == 4 and math.isfinite(summary[summary["objective"]])  # val/loss without a reference


def test_accuracy_script_runs_seeds_tabulates_and_fills_the_readme(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"# before\n{BEGIN}\nold table\n{END}\nafter\n")
    runs, out = tmp_path / "runs", tmp_path / "out"
    extra = [*TINY, "compile_step=false", *SMALL_GRIDS["burgers"]]
    sets = [a for o in extra for a in ("--set", o)]
    args = ["burgers", "--seeds", "2", "--runs", str(runs), "--out", str(out), "--readme", str(readme), *sets]
    main(args)  # python experiments/accuracy.py ARGS, in-process: each run is still its own train.py process
    (row,) = json.loads((out / "accuracy.json").read_text())
    errs = [float(np.load(runs / "burgers" / f"seed{s}" / "solution.npz")["l2_rel"]) for s in (0, 1)]
    assert errs[0] != errs[1]  # two seeds, two runs
    assert row["recipe"] == "burgers" and row["seeds"] == 2 and row["steps"] == 4
    assert row["l2_rel"] == pytest.approx(np.mean(errs)) and row["l2_rel_std"] == pytest.approx(np.std(errs, ddof=1))
    assert row["command"].startswith("python train.py experiment=burgers") and "seed=" not in row["command"]
    assert row["published"] == "~8e-9" and row["l2_rel_median"] == pytest.approx(np.median(errs))
    assert row["l2_rel_seeds"] == pytest.approx(errs) and row["wall_s"] > 0  # the slower seed's process time
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# before\n") and text.endswith(f"{END}\nafter\n")
    assert (out / "accuracy.md").read_text() in text and (out / "accuracy.csv").stat().st_size > 0
    # finished runs made with the same settings are read, not rerun; one made with other --set values is rerun
    stamp = (runs / "burgers" / "seed0" / "summary.json").stat().st_mtime_ns
    main(["burgers", "--runs", str(runs), "--out", str(out), *sets])
    assert (runs / "burgers" / "seed0" / "summary.json").stat().st_mtime_ns == stamp
    # a run made before its recipe (or a default) was edited is stale too: its saved config differs from today's
    run0 = runs / "burgers" / "seed0"
    assert stale(run0, "burgers", 0, extra) is None
    saved = json.loads((run0 / "summary.json").read_text())
    saved["config"]["optim"]["second_from"] = 999
    (run0 / "summary.json").write_text(json.dumps(saved))
    assert "optim.second_from" in stale(run0, "burgers", 0, extra)
    # and so is one asked for with another --set value (the run itself is the train.py process run above)
    reran = []
    monkeypatch.setattr(accuracy, "run_recipe", lambda *a: reran.append(a) or runs / "burgers" / "seed0")
    main(["burgers", "--runs", str(runs), "--out", str(out), *sets, "--set", "data.points.interior=32"])
    assert reran == [("burgers", 0, runs, [*extra, "data.points.interior=32"])]


def test_accuracy_script_rejects_unknown_recipes_and_readmes_without_markers(tmp_path):
    with pytest.raises(SystemExit, match=r"unknown recipe.*valid: .*burgers"):
        main(["burgers_typo", "--runs", str(tmp_path)])
    with pytest.raises(SystemExit, match="no finished runs"):
        main(["--read", str(tmp_path)])
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    run = tmp_path / "runs" / "burgers" / "seed0"
    train(compose_cfg(run, "experiment=burgers", *TINY, "compile_step=false", *SMALL_GRIDS["burgers"]))
    with pytest.raises(SystemExit, match="markers"):
        main(["--read", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--readme", str(readme)])
    assert readme.read_text() == "no markers\n"


def test_inverse_problem_rows_report_the_learned_coefficient_against_the_truth():
    row = {"recipe": "burgers_inverse", "command": "python train.py experiment=burgers_inverse", "seeds": 1,
           "l2_rel": 2.7e-3, "l2_rel_std": 0.0, "per_field": {"u": 2.7e-3}, "linf": 1e-2, "time_s": 420.0,
           "steps": 6000, "device": "cpu", "date": "2026-11-26", "published": "–", "published_by": "",
           "learned": {"nu": 0.0032070, "nu_true": 0.0031831}}  # fmt: skip
    assert "nu 0.003207 (true 0.0031831, 0.75% off)" in markdown([row])
