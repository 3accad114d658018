"""Training speed of two source trees, side by side: each backend's training run through each tree's own
``train.py``, the trees interleaved run by run, medians of the runs' ``it_per_s``, reported as new / old.

    python experiments/tree_speed.py --old /path/to/old/tree [--new .] [--reps 3] [--steps 200]

Writes ``experiments/results/tree_speed.{csv,json,md}``. Time it on a quiet machine: nothing else running.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments.report import write_report
from experiments.trees import train_in

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "autograd": ["derivative=autograd"],
    "batched_grad": ["derivative=batched_grad"],
    "functional": ["derivative=functional"],
    "func": ["derivative=func"],
    "func_fwd": ["derivative=func_fwd"],
    "taylor": ["derivative=taylor"],
    "taylor+compile_step": ["derivative=taylor", "compile_step=true"],
    "autograd+steps_per_batch+edges": ["derivative=autograd", "steps_per_batch=10", "data.residual_everywhere=true",
                                       "pde.hard=false"],
}  # fmt: skip


def it_per_s(tree: Path, overrides: list[str], steps: int, out: Path) -> float:
    over = ["pde=burgers", "logger=csv", f"trainer.max_steps={steps}", "checks=false",
            f"trainer.val_check_interval={steps}", f"trainer.log_every_n_steps={steps // 2}",
            "trainer.enable_progress_bar=false", "optim=adam", *overrides]  # fmt: skip
    proc = train_in(tree, over, out, timeout=1200)
    if proc.returncode:
        raise RuntimeError(f"{tree}: train.py {' '.join(overrides)} failed:\n{proc.stderr[-2000:]}")
    return float(json.loads((out / "summary.json").read_text())["perf/it_per_s"])  # steady: the second half


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, default=ROOT)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=500, help="a multiple of 20: the rate is over the second half")
    ap.add_argument("--only", default="", help="comma-separated case names (default: all)")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, ov in CASES.items():
            if args.only and name not in args.only.split(","):
                continue
            runs: dict[str, list[float]] = {"old": [], "new": []}
            for rep in range(args.reps):  # interleaved, the order alternating: old, new, new, old, old, new, ...
                pair = (("old", args.old), ("new", args.new))
                for side, tree in pair if rep % 2 == 0 else pair[::-1]:
                    out = Path(tmp) / f"{side}_{len(rows)}_{rep}"
                    runs[side].append(it_per_s(tree.resolve(), ov, args.steps, out))
            old, new = statistics.median(runs["old"]), statistics.median(runs["new"])
            rows.append({"case": name, "new_over_old": new / old, "old_it_per_s": old, "new_it_per_s": new,
                         "old_runs": runs["old"], "new_runs": runs["new"]})  # fmt: skip
            print(f"{name:40s} new/old {new / old:.3f}  (old {old:.1f}, new {new:.1f} it/s)", flush=True)
    command = " ".join(["python experiments/tree_speed.py", *(argv or sys.argv[1:])])
    write_report("tree_speed", rows, {"command": command, "pde": "burgers", "steps": args.steps, "reps": args.reps},
                 columns=["case", "new_over_old", "old_it_per_s", "new_it_per_s"])  # fmt: skip
    return 0 if all(r["new_over_old"] >= 0.95 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
