"""Run the accuracy recipes (``pinnkit/conf/experiment/<name>.yaml``) and write the accuracy table beside published
figures.

    python experiments/accuracy.py burgers                    # one recipe, seed 0
    python experiments/accuracy.py burgers allen_cahn --seeds 3
    python experiments/accuracy.py --read runs/accuracy       # tabulate finished runs only
    python experiments/accuracy.py --read runs/cpu --read runs/gpu   # one table, rows from both (device column)
    python experiments/accuracy.py burgers --set trainer.max_steps=100   # extra overrides for every run

Each run is ``python train.py experiment=<name> seed=<k> logger=csv`` in its own subprocess, written to
``<runs>/<name>/seed<k>/`` (``--runs``, default ``runs/accuracy``); a run whose ``summary.json`` and
``solution.npz`` already exist, whose overrides are this command's (the ``--set`` values included) and whose saved
config is what those overrides compose to today (so an edited recipe reruns) is read, not rerun; one made with
other settings is rerun over it (``--force`` reruns every run). The table (rel L2 over
all fields: the median over seeds and each seed's; per field, L∞, training time, the whole process's wall time,
iterations, device, date) goes to ``accuracy.{md,csv,json}`` in ``experiments/results/`` (``--out``) and, with
``--readme``, between the accuracy markers of the README.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: experiments/ and pinnkit/ importable

from experiments.compare_runs import run_overrides  # noqa: E402
from pinnkit.atomic import write_csv, write_json, write_text  # noqa: E402

RECIPES = ROOT / "pinnkit" / "conf" / "experiment"
BEGIN, END = "<!-- accuracy-table:begin -->", "<!-- accuracy-table:end -->"

# Published state of the art, rel L2 (all fields), for the same problem unless noted: (figure, source).
PUBLISHED: dict[str, tuple[str, str]] = {
    "burgers": ("~8e-9", "SSBroyden + vRBA, Toscano et al. 2025"),
    "allen_cahn": ("~2e-6", "SSBroyden + vRBA, Toscano et al. 2025"),
    "helmholtz": ("~1e-6", "SSBroyden, Urbán, Stefanou & Pons 2025 (their a₁ = a₂ = 6)"),
    "poisson": ("~1e-7 (RMS error)", "ENGD, Müller & Zeinhofer 2023 (their 2-D Poisson)"),
    "heat": ("~1e-7 (RMS error)", "ENGD, Müller & Zeinhofer 2023 (their heat problem)"),
    "advection": ("6.9e-4", "jaxpi, Wang et al. 2023"),
    "kdv": ("~2e-6", "SSBroyden + vRBA, Toscano et al. 2025 (jaxpi, Wang et al. 2023: 2.0e-3)"),
    "schrodinger": ("1.97e-3", "Raissi et al. 2019"),
    "kuramoto_sivashinsky": ("1.61e-1", "jaxpi, Wang et al. 2023 (10 time windows)"),
}


def recipes() -> list[str]:
    """The recipe names: ``pinnkit/conf/experiment/*.yaml``."""
    return sorted(p.stem for p in RECIPES.glob("*.yaml"))


def check_names(names: list[str]) -> None:
    valid = recipes()
    bad = [n for n in names if n not in valid]
    if bad:
        raise SystemExit(f"unknown recipe(s) {', '.join(bad)}; valid: {', '.join(valid)}")


def run_dir(runs: Path, name: str, seed: int) -> Path:
    return runs / name / f"seed{seed}"


def finished(run: Path) -> bool:
    return (run / "summary.json").is_file() and (run / "solution.npz").is_file()


def overrides(name: str, seed: int, extra: list[str]) -> list[str]:
    """The overrides a run of this recipe and seed is made with (besides its directory)."""
    return [f"experiment={name}", f"seed={seed}", "logger=csv", "trainer.enable_progress_bar=false", *extra]


def stale(run: Path, name: str, seed: int, extra: list[str]) -> str | None:
    """Why the run in ``run`` cannot be reused for this command (``None``: it can)."""
    if not finished(run):
        return "not finished"
    made = set(run_overrides(run, drop=("hydra.", "overwrite=")))
    wanted = set(overrides(name, seed, extra))
    if made != wanted:
        return f"made with other settings ({' '.join(sorted(made ^ wanted))})"
    changed = config_changes(json.loads((run / "summary.json").read_text())["config"], name, seed, extra)
    if changed:
        return f"the recipe changed since ({', '.join(changed[:5])})"
    return None


def config_changes(saved: dict, name: str, seed: int, extra: list[str]) -> list[str]:
    """The dotted keys where the config the run was made with differs from what its overrides compose to today
    (an edited recipe or default), its output directory, ``overwrite`` and the callbacks aside."""
    from omegaconf import OmegaConf

    import pinnkit

    now = OmegaConf.to_container(pinnkit.compose(*overrides(name, seed, extra), output_dir="."), resolve=True)
    aside = ("paths", "overwrite", "callbacks")  # where outputs go and what watches a run, not what it trains
    return sorted(differences({k: v for k, v in saved.items() if k not in aside},
                              {k: v for k, v in now.items() if k not in aside}))  # fmt: skip


def differences(a, b, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return {d for k in a.keys() | b.keys() for d in differences(a.get(k), b.get(k), f"{prefix}{k}.")}
    return set() if a == b else {prefix.rstrip(".")}


def run_recipe(name: str, seed: int, runs: Path, extra: list[str]) -> Path:
    """Train one recipe with one seed in a subprocess (over any earlier run in its directory); the directory. The
    process's wall time (start-up, reference, compilation, validation and plots included) goes to ``wall.json``."""
    out = run_dir(runs, name, seed)
    cmd = [sys.executable, "train.py", *overrides(name, seed, extra), f"hydra.run.dir={out}", "overwrite=true"]
    print("+", " ".join(cmd[1:]), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not finished(out):
        raise SystemExit(f"recipe {name} seed {seed} failed (exit {proc.returncode}); see {out}")
    write_json(out / "wall.json", {"wall_s": wall, "command": " ".join(cmd[1:])})
    return out


def read_run(run: Path) -> dict:
    """One run's figures from its ``summary.json`` and ``solution.npz``. A PDE validated on held-out random points
    (``pde.val_points``: the high-dimensional ones) is scored by its final ``val/l2_rel`` over them, not by the
    plotted plane that ``solution.npz`` holds."""
    summary = json.loads((run / "summary.json").read_text())
    with np.load(run / "solution.npz") as sol:
        fields = [str(f) for f in sol["fields"]]
        errors = {"l2_rel": float(sol["l2_rel"]), "linf": float(sol["linf"]),
                  "per_field": {f: float(sol[f"l2_rel_{f}"]) for f in fields}}  # fmt: skip
    if summary["config"]["pde"].get("val_points") and "val/l2_rel" in summary:
        errors["l2_rel"] = errors["per_field"][fields[0]] = summary["val/l2_rel"]
        errors["linf"] = float("nan")  # the random points' maximum error is not kept
    stamp = datetime.fromtimestamp((run / "summary.json").stat().st_mtime, UTC).strftime("%Y-%m-%d")
    wall = json.loads((run / "wall.json").read_text())["wall_s"] if (run / "wall.json").is_file() else None
    return {
        **errors, "time_s": summary["time_s"], "wall_s": wall, "steps": summary["steps"],
        "device": summary.get("device"), "date": stamp,
        "overrides": run_overrides(run, drop=("hydra.", "logger=", "trainer.enable_progress_bar", "overwrite=")),
        "learned": summary.get("learned") or {},
    }  # fmt: skip


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(name: str, runs: list[dict]) -> dict:
    """One table row: the median, mean and std of rel L2 over a recipe's seeds, each seed's, and means of the rest."""
    mean, std = _mean_std([r["l2_rel"] for r in runs])
    walls = [r["wall_s"] for r in runs if r.get("wall_s") is not None]
    fields = list(runs[0]["per_field"])
    first = runs[0]["overrides"]
    command = "python train.py " + " ".join(o for o in first if not o.startswith("seed="))
    published, by = PUBLISHED.get(name, ("–", ""))
    return {
        "recipe": name, "command": command.strip(), "seeds": len(runs), "l2_rel": mean, "l2_rel_std": std,
        "l2_rel_median": statistics.median(r["l2_rel"] for r in runs), "l2_rel_seeds": [r["l2_rel"] for r in runs],
        "l2_rel_best": min(r["l2_rel"] for r in runs), "wall_s": max(walls) if walls else None,
        "per_field": {f: statistics.fmean(r["per_field"][f] for r in runs) for f in fields},
        "linf": statistics.fmean(r["linf"] for r in runs), "time_s": statistics.fmean(r["time_s"] for r in runs),
        "steps": runs[0]["steps"], "device": runs[0]["device"], "date": max(r["date"] for r in runs),
        "learned": {k: statistics.fmean(r["learned"][k] for r in runs) for k in runs[0]["learned"]},
        "published": published, "published_by": by,
    }  # fmt: skip


def collect(runs_root: Path, names: list[str] | None = None) -> list[dict]:
    """Rows for every recipe with finished runs under ``runs_root`` (or only ``names``); other folders are skipped."""
    rows = []
    wanted = set(names or recipes())
    for recipe in sorted(p for p in runs_root.iterdir() if p.is_dir()) if runs_root.is_dir() else []:
        if recipe.name not in wanted:
            continue
        done = [read_run(r) for r in sorted(recipe.glob("seed*")) if finished(r)]
        if done:
            rows.append(summarize(recipe.name, done))
    if not rows:
        raise SystemExit(f"no finished runs (summary.json + solution.npz) under {runs_root}")
    return rows


def _versus(name: str, value: float, true: float) -> str:
    return f"{name} {value:.5g} (true {true:.5g}, {abs(value / true - 1):.2%} off)"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| recipe | rel L2, median (each seed) | per field / learned | L∞ | training time | wall time, longest seed "
        "| steps | seeds | published | device, date |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per = ", ".join(f"{f} {v:.1e}" for f, v in r["per_field"].items()) if len(r["per_field"]) > 1 else "–"
        learned = r.get("learned") or {}
        # inverse problems: each learned coefficient against its true value
        coefficients = [_versus(k, learned[k], learned[f"{k}_true"]) for k in learned if f"{k}_true" in learned]
        if coefficients:
            per = ", ".join(coefficients)
        seeds = r.get("l2_rel_seeds", [r["l2_rel"]])
        each = f" ({', '.join(f'{v:.1e}' for v in seeds)})" if len(seeds) > 1 else ""
        median = r.get("l2_rel_median", r["l2_rel"])
        wall = f"{r['wall_s'] / 60:.1f} min" if r.get("wall_s") is not None else "–"
        pub = f"{r['published']}, {r['published_by']}" if r["published_by"] else "–"
        linf = "–" if math.isnan(r["linf"]) else f"{r['linf']:.1e}"
        lines.append(
            f"| `{r['command']}` | {median:.2e}{each} | {per} | {linf} | {r['time_s'] / 60:.1f} min | {wall} "
            f"| {r['steps']} | {r['seeds']} | {pub} | {r['device']}, {r['date']} |"
        )
    return "\n".join(lines) + "\n"


def write(rows: list[dict], out: Path, readme: Path | None) -> str:
    """``accuracy.{md,csv,json}`` in ``out``; the README's table between the markers when ``readme``."""
    table = markdown(rows)
    new_readme = None
    if readme is not None:  # checked before anything is written
        text = readme.read_text()
        if BEGIN not in text or END not in text:
            raise SystemExit(f"{readme} has no {BEGIN} ... {END} markers to put the table between")
        head, rest = text.split(BEGIN, 1)
        new_readme = f"{head}{BEGIN}\n{table}{END}{rest.split(END, 1)[1]}"
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "accuracy.md", table)
    write_json(out / "accuracy.json", rows)
    flat = [{**{k: v for k, v in r.items() if k not in ("per_field", "learned")},
             **{f"l2_rel_{f}": v for f, v in r["per_field"].items()},
             **{f"learned_{k}": v for k, v in (r.get("learned") or {}).items()}} for r in rows]  # fmt: skip
    write_csv(out / "accuracy.csv", flat)
    if readme is not None:
        write_text(readme, new_readme)
    return table


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipes", nargs="*", help=f"recipe names (pinnkit/conf/experiment/*.yaml): {', '.join(recipes())}")
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per recipe")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "accuracy", help="where the runs are written")
    p.add_argument(
        "--read",
        type=Path,
        action="append",
        default=[],
        help="only tabulate the finished runs under this directory (repeatable: rows from each)",
    )
    p.add_argument("--force", action="store_true", help="rerun runs that already finished")
    p.add_argument("--set", dest="extra", action="append", default=[], help="extra override for every run")
    p.add_argument("--out", type=Path, default=ROOT / "experiments" / "results")
    p.add_argument("--readme", type=Path, default=None, help="also put the table into this README")
    args = p.parse_args(argv)
    if not args.read and not args.recipes:
        p.error("name recipes to run, or --read a directory of finished runs")
    check_names(args.recipes)
    if not args.read:
        for name in args.recipes:
            for seed in range(args.seeds):
                why = "--force" if args.force else stale(run_dir(args.runs, name, seed), name, seed, args.extra)
                if why is not None:
                    print(f"{name} seed {seed}: running ({why})", flush=True)
                    run_recipe(name, seed, args.runs, args.extra)
    rows = [row for root in args.read or [args.runs] for row in collect(root, args.recipes or None)]
    print(write(rows, args.out, args.readme))


if __name__ == "__main__":
    main()
