"""Same losses on two source trees: every PDE's default run, every recipe and every moving piece of training
(resampling, RAD, the L-BFGS switch and freeze, grad-norm balancing, causal weighting, edge tails,
``steps_per_batch``, 2-process DDP), run through each tree's own ``train.py`` for a fixed seed in float64, eager,
on the CPU, with the per-step losses compared at a relative tolerance.

    python experiments/equivalence.py --old /path/to/old/tree --new . [--only heat,ddp] [--jobs 2]

Writes ``experiments/results/equivalence.{json,md}``; exits 1 when any case differs.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments.report import write_report
from experiments.trees import train_in

ROOT = Path(__file__).resolve().parent.parent
STEPS = 60
COMMON = [
    f"trainer.max_steps={STEPS}", "trainer.log_every_n_steps=1", "trainer.val_check_interval=30",
    "trainer.precision=64", "trainer.enable_progress_bar=false", "logger=csv", "threads=1", "compile_step=false",
    "++derivative.compile=false", "data.points.interior=96", "data.points.initial=24", "data.points.boundary=24",
    "data.points.periodic=24", "data.val_points=64",
]  # fmt: skip
FEATURES = {
    "resample": ["pde=burgers", "data.resample_every=7"],
    "rad": ["pde=burgers", "data.adaptive.pool=4", "data.resample_every=10"],
    "lbfgs": ["pde=burgers", "optim=adam_lbfgs", "optim.second_from=40", "optim.second.max_iter=5",
              "data.resample_every=15"],
    "balance": ["pde=burgers", "pde.hard=false", "balance.every=10"],
    "causal": ["pde=allen_cahn", "causal.chunks=4", "causal.eps=0.5"],
    "edges": ["pde=burgers", "pde.hard=false", "data.residual_everywhere=true"],
    "edges_taylor": ["pde=burgers", "pde.hard=false", "data.residual_everywhere=true", "derivative=taylor"],
    "unfused": ["pde=heat", "fuse_terms=false"],
    "steps_per_batch": ["pde=burgers", "steps_per_batch=4", "trainer.log_every_n_steps=4",
                        "trainer.val_check_interval=28"],
    "ddp": ["pde=burgers", "pde.hard=false", "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
            "optim=adam_lbfgs", "optim.second_from=50", "optim.second.max_iter=3", "balance.every=10"],
}  # fmt: skip


def conf_dir(tree: Path) -> Path:
    """A tree's config directory: inside the package, or at the root in trees from before the move."""
    return tree / "pinnkit" / "conf" if (tree / "pinnkit" / "conf").is_dir() else tree / "conf"


def cases(tree: Path) -> dict[str, list[str]]:
    """Every PDE default (``pde=<name>``), every recipe (``experiment=<name>``) and the feature runs."""
    out = {f"pde={p.stem}": [f"pde={p.stem}"] for p in sorted((conf_dir(tree) / "pde").glob("*.yaml"))}
    out |= {
        f"experiment={p.stem}": [f"experiment={p.stem}"] for p in sorted((conf_dir(tree) / "experiment").glob("*.yaml"))
    }
    return out | {k: list(v) for k, v in FEATURES.items()}


def run(tree: Path, overrides: list[str], out: Path) -> dict:
    """Train with ``tree``'s ``train.py``; the per-step ``train/`` and ``val/`` values logged, by step."""
    proc = train_in(tree, [*COMMON, *overrides], out, timeout=1800, env={"OMP_NUM_THREADS": "1"})
    if proc.returncode:
        return {"error": proc.stderr[-2000:]}
    rows: dict[str, dict[str, float]] = {}
    for path in sorted(out.rglob("metrics.csv")):
        with open(path) as f:
            for row in csv.DictReader(f):
                for k, v in row.items():
                    if v and (k.startswith("train/") or k.startswith("val/")):
                        rows.setdefault(f"{row['step']}", {})[k] = float(v)
    return {"metrics": rows}


def compare(a: dict, b: dict, rtol: float) -> tuple[float, int, str | None]:
    """The largest relative difference, how many values were compared, and what is missing or broken."""
    if "error" in a or "error" in b:
        return math.inf, 0, (a.get("error") or b.get("error"))[-400:]
    worst, n = 0.0, 0
    if a["metrics"].keys() != b["metrics"].keys():
        return math.inf, 0, f"steps differ: {sorted(a['metrics'].keys() ^ b['metrics'].keys())[:5]}"
    for step, va in a["metrics"].items():
        vb = b["metrics"][step]
        if va.keys() != vb.keys():
            return math.inf, n, f"step {step}: keys {sorted(va.keys() ^ vb.keys())}"
        for k in va:
            x, y = va[k], vb[k]
            worst = max(worst, 0.0 if x == y else abs(x - y) / max(abs(x), abs(y), 1e-300))
            n += 1
    return worst, n, None if worst <= rtol else f"relative difference {worst:.2e} > {rtol:.0e}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, default=ROOT)
    ap.add_argument("--only", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rtol", type=float, default=1e-10)
    args = ap.parse_args(argv)
    todo = cases(args.new.resolve())
    if args.only:
        todo = {k: v for k, v in todo.items() if k in args.only.split(",")}
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:

        def both(item: tuple[str, list[str]]) -> dict:
            name, ov = item
            got = [run(t.resolve(), ov, Path(tmp) / side / name.replace("=", "_")) for side, t in
                   (("old", args.old), ("new", args.new))]  # fmt: skip
            worst, n, problem = compare(*got, args.rtol)
            print(f"{name:28s} values={n:5d} max_rel={worst:.1e} {'ok' if problem is None else problem}", flush=True)
            return {"case": name, "overrides": " ".join(ov), "values": n, "max_rel_diff": worst, "problem": problem}

        rows = list(pool.map(both, todo.items()))
    command = " ".join(["python experiments/equivalence.py", *(argv or sys.argv[1:])])
    write_report("equivalence", rows, {"command": command, "steps": STEPS, "common": COMMON, "rtol": args.rtol})
    bad = [r["case"] for r in rows if r["problem"]]
    print(json.dumps({"cases": len(rows), "differ": bad}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
