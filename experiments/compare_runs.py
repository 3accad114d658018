"""Compare the runs of a sweep (a Hydra multirun directory), offline: a table and curves per run.

    python train.py -m derivative=autograd,func,taylor pde=heat,vector3d
    python experiments/compare_runs.py multirun/<date>/<time>

Reads every run's ``summary.json`` and ``csv/*/metrics.csv`` (written whatever the logger) and writes into the
sweep directory ``comparison.md`` / ``comparison.csv`` (status, final rel L2, it/s, median derivative ms, peak
memory, wall time; peak memory is the process's, so in-process multirun jobs carry earlier jobs' peaks) and
``comparison.png`` (training loss and rel L2 against wall time, one line per run), ``comparison_terms.png`` (each
loss term against the step, one panel per term) and, where runs differ only in ``seed=``, ``comparison_seeds.md``
(per setting: the number of seeds, rel L2 mean ± std and median, it/s mean ± std). A run is every job directory
of the sweep (``.hydra/``); one without a readable ``summary.json`` (crashed, killed, still running, a truncated
file) is listed with its status, never dropped.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: pinnkit importable

from pinnkit.atomic import save_figure, write_csv, write_text  # noqa: E402


def run_overrides(run: Path, drop: tuple[str, ...] = ("hydra", "logger")) -> list[str]:
    """The command-line overrides of the Hydra run in ``run`` (``.hydra/overrides.yaml``; none if it is missing),
    less those starting with ``drop``."""
    path = run / ".hydra" / "overrides.yaml"
    items = (yaml.safe_load(path.read_text()) or []) if path.is_file() else []
    return [o for o in items if not o.startswith(drop)]


def _labels(runs: list[Path], summaries: list[dict]) -> list[str]:
    """Each run's overrides less those shared by every run of the sweep (what varies); else pde and backend."""
    items = [run_overrides(r) for r in runs]
    common = set.intersection(*(set(i) for i in items)) if items else set()
    return [
        " ".join(o for o in i if o not in common) or f"{s.get('pde')} {s.get('derivative')}"
        for i, s in zip(items, summaries, strict=True)
    ]


def _history(run: Path) -> list[dict[str, float]]:
    rows = []
    for path in sorted(run.glob("csv/*/metrics.csv")):
        with open(path) as f:
            rows += [{k: float(v) for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(f)]
    return rows


def read_summary(run: Path) -> tuple[dict, str]:
    """A run's ``summary.json`` and its status: ``ok``, ``stopped: <why>``, or why there is no summary."""
    path = run / "summary.json"
    if not path.is_file():
        return {}, "no summary.json (crashed, killed or still running)"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return {}, f"unreadable {path.name} ({type(err).__name__}: {err})"
    return summary, f"stopped: {summary['stopped']}" if summary.get("stopped") else "ok"


def collect(sweep: Path) -> list[dict]:
    """One record per run under ``sweep`` (every job directory, with or without a summary): label, status,
    summary figures and metric history."""
    dirs = {p.parent for p in sweep.rglob("summary.json")} | {p.parent for p in sweep.rglob(".hydra")}
    dirs = sorted(d for d in dirs if d != sweep or (d / "summary.json").is_file())
    read = [read_summary(d) for d in dirs]
    labels = _labels(dirs, [s for s, _ in read])
    runs = []
    for run, (summary, status), label in zip(dirs, read, labels, strict=True):
        hist = _history(run)
        deriv = [r["perf/deriv_ms"] for r in hist if "perf/deriv_ms" in r]
        runs.append({
            "run": str(run.relative_to(sweep)), "label": label, "status": status,
            "val/l2_rel": summary.get("val/l2_rel"), "it_per_s": summary.get("it_per_s"),
            "deriv_ms": statistics.median(deriv) if deriv else None, "peak_mem_mb": summary.get("peak_mem_mb"),
            "time_s": summary.get("time_s"), "steps": summary.get("steps"), "history": hist,
        })  # fmt: skip
    if not runs:
        raise SystemExit(f"no runs (job directories with .hydra/ or summary.json) under {sweep}")
    for r in runs:
        if r["status"] != "ok":
            print(f"warning: {r['run']}: {r['status']}", file=sys.stderr)
    return runs


def _fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def write(runs: list[dict], sweep: Path) -> None:
    cols = ["run", "label", "status", "val/l2_rel", "it_per_s", "deriv_ms", "peak_mem_mb", "time_s", "steps"]
    write_csv(sweep / "comparison.csv", runs, cols)
    lines = [
        "| run | status | final rel L2 | it/s | derivative ms | peak MB | wall s | steps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(runs, key=lambda r: (r["val/l2_rel"] is None, r["val/l2_rel"] or 0.0)):
        lines.append(
            f"| {r['label']} | {r['status']} | {_fmt(r['val/l2_rel'], '.2e')} | {_fmt(r['it_per_s'], '.1f')} | "
            f"{_fmt(r['deriv_ms'], '.2f')} | {_fmt(r['peak_mem_mb'], '.0f')} | {_fmt(r['time_s'], '.1f')} | "
            f"{_fmt(r['steps'], 'd')} |"
        )
    write_text(sweep / "comparison.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(runs, sweep / "comparison.png")
    plot_terms(runs, sweep / "comparison_terms.png")
    seeds = seed_table(runs)
    if seeds:
        write_text(sweep / "comparison_seeds.md", seeds)
        print(seeds)


def _without_seed(label: str) -> str:
    return " ".join(w for w in label.split() if not w.startswith("seed=")) or "(all)"


def _mean_std(values: list[float], mean: str = ".2e", std: str = ".1e") -> str:
    if not values:
        return "–"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{format(statistics.fmean(values), mean)} ± {format(spread, std)}"


def seed_table(runs: list[dict]) -> str | None:
    """The markdown table of runs grouped by their settings less ``seed=`` (``None`` when no setting has more
    than one seed): finished runs only, each figure over the group's seeds."""
    groups: dict[str, list[dict]] = {}
    for r in runs:
        if r["status"] == "ok":
            groups.setdefault(_without_seed(r["label"]), []).append(r)
    if not any(len(g) > 1 for g in groups.values()):
        return None
    lines = ["| setting | seeds | rel L2 mean ± std | rel L2 median | it/s mean ± std |", "|---|---|---|---|---|"]
    for name, group in sorted(groups.items()):
        l2 = [r["val/l2_rel"] for r in group if r["val/l2_rel"] is not None]
        speed = [r["it_per_s"] for r in group if r["it_per_s"] is not None]
        median = f"{statistics.median(l2):.2e}" if l2 else "–"
        lines.append(f"| {name} | {len(group)} | {_mean_std(l2)} | {median} | {_mean_std(speed, '.1f', '.1f')} |")
    return "\n".join(lines) + "\n"


def plot_terms(runs: list[dict], path: Path) -> None:
    """Each ``train/loss_<term>`` against the step, one panel per term, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    terms = sorted({k for r in runs for h in r["history"] for k in h if k.startswith("train/loss_")})
    if not terms:
        return
    fig, axes = plt.subplots(1, len(terms), figsize=(4.2 * len(terms), 3.5), squeeze=False)
    for ax, term in zip(axes[0], terms, strict=True):
        for r in runs:
            pts = sorted((h["step"], h[term]) for h in r["history"] if term in h)
            if pts:
                ax.semilogy(*zip(*pts, strict=True), lw=1, label=r["label"])
        ax.set(xlabel="step", title=term)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        train = [(h["perf/wall_s"], h["train/loss"]) for h in r["history"] if "perf/wall_s" in h and "train/loss" in h]
        if train:
            a.semilogy(*zip(*train, strict=True), label=r["label"])
        steps_wall = sorted((h["step"], h["perf/wall_s"]) for h in r["history"] if "perf/wall_s" in h)
        val = [(h["step"], h["val/l2_rel"]) for h in r["history"] if "val/l2_rel" in h]
        if val and steps_wall:
            import numpy as np

            s, w = zip(*steps_wall, strict=True)
            b.semilogy(np.interp([v[0] for v in val], s, w), [v[1] for v in val], "o-", label=r["label"])
    a.set(xlabel="wall time [s]", ylabel="train/loss", title="training loss")
    b.set(xlabel="wall time [s]", ylabel="val/l2_rel", title="relative L2 error")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    b.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep_dir", type=Path)
    args = p.parse_args(argv)
    write(collect(args.sweep_dir), args.sweep_dir)


if __name__ == "__main__":
    main()
