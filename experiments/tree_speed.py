"""Training speed of two source trees, side by side: for each case, one training run per tree, each in its own
process importing its own tree's pinnkit (:mod:`experiments.speed_worker`), the two taking turns chunk by chunk
(``--chunk`` optimizer steps, the order alternating) so that both see the same machine; repeated ``--reps`` times
with fresh processes, each repeat's rate over its chunks after the first ``--warm`` and before the last (which
holds the run's end: the final checkpoint), reported as new / old (the median of the repeats' ratios, and every
repeat).

    python experiments/tree_speed.py --old /path/to/old/tree [--new .] [--reps 3] [--steps 1000] [--chunk 100]

Cases: every backend on the default Burgers run (Adam), the whole-step compile, ``steps_per_batch`` with edge
tails, and the peer benchmark's pinnkit runners (its own overrides at its default options, Adam then L-BFGS). Writes
``experiments/results/tree_speed.{csv,json,md}``. Time it on a quiet machine: nothing else running.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments.bench_peers import parser as peer_options
from experiments.peer_runners import pinnkit_overrides
from experiments.report import write_report
from experiments.trees import tree_env

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "experiments" / "speed_worker.py"
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
# the peer benchmark's pinnkit runners: (backend, whole_step) for its pinnkit_overrides
PEER_CASES = {"peer:pinnkit-autograd": ("autograd", False), "peer:pinnkit-taylor": ("taylor", False),
              "peer:pinnkit-taylor-step": ("taylor", True)}  # fmt: skip


def peer_overrides(backend: str, whole_step: bool, steps: int, lbfgs: int) -> list[str]:
    """The peer runner's own overrides at the benchmark's default options, ``steps`` in all, the last ``lbfgs``
    of them L-BFGS steps."""
    options = peer_options().parse_args([])
    options.adam, options.lbfgs = steps - lbfgs, lbfgs
    return [*map(str, pinnkit_overrides(options, backend, whole_step))]


class Side:
    """One tree's worker process for one repeat of one case."""

    def __init__(self, tree: Path, overrides: list[str], chunk: int) -> None:
        cmd = [sys.executable, str(WORKER), "--tree", str(tree), "--chunk", str(chunk), "--", *overrides]
        self.proc = subprocess.Popen(cmd, cwd=tree, env=tree_env(tree), text=True, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        self.output: collections.deque[str] = collections.deque(maxlen=100)  # the worker's last other lines
        self.chunks: list[tuple[float, int]] = []

    def message(self) -> list[str]:
        for line in self.proc.stdout:
            if line.startswith("@@ "):
                return line[3:].split()
            self.output.append(line)
        self.proc.wait()
        raise RuntimeError(f"the worker exited ({self.proc.returncode}):\n{''.join(self.output)}")

    def turn(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        _, seconds, steps = self.message()
        self.chunks.append((float(seconds), int(steps)))

    def finish(self, timeout: float = 600) -> None:
        self.proc.stdin.close()
        self.output.extend(self.proc.stdout)  # the run's end (and, on a failure, why)
        if self.proc.wait(timeout=timeout):
            raise RuntimeError(f"the worker failed ({self.proc.returncode}):\n{''.join(self.output)}")

    def rate(self, warm: int) -> float:
        kept = self.chunks[warm:-1]  # the last chunk holds the run's end (the final checkpoint): not a step's cost
        return sum(n for _, n in kept) / sum(t for t, _ in kept)


def one_repeat(trees: dict[str, Path], overrides: list[str], args) -> dict[str, float]:
    """Both trees' runs of one case, taking turns chunk by chunk; their steady rates in steps per second."""
    sides = {name: Side(tree, overrides, args.chunk) for name, tree in trees.items()}
    for side in sides.values():
        if side.message() != ["ready"]:
            raise RuntimeError("the worker did not say ready")
    order = list(sides)
    for i in range(args.steps // args.chunk):
        for name in order if i % 2 == 0 else order[::-1]:
            sides[name].turn()
    for side in sides.values():
        side.finish()
    return {name: side.rate(args.warm) for name, side in sides.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, default=ROOT)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1000, help="optimizer steps per run, a multiple of --chunk")
    ap.add_argument("--chunk", type=int, default=100, help="optimizer steps per turn")
    ap.add_argument("--warm", type=int, default=2, help="leading chunks left out of the rate (compilation, warm-up)")
    ap.add_argument("--lbfgs", type=int, default=100, help="the peer runners' L-BFGS steps (the last of --steps)")
    ap.add_argument("--only", default="", help="comma-separated case names (default: all)")
    args = ap.parse_args(argv)
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    common = ["pde=burgers", "logger=csv", "checks=false", "optim=adam", "trainer.enable_progress_bar=false",
              f"trainer.max_steps={args.steps}", f"trainer.val_check_interval={args.steps}"]  # fmt: skip
    cases = {name: [*common, *overrides] for name, overrides in CASES.items()}
    cases |= {name: peer_overrides(*case, args.steps, args.lbfgs) for name, case in PEER_CASES.items()}
    rows = []
    for name, overrides in cases.items():
        if args.only and name not in args.only.split(","):
            continue
        ratios, rates = [], {"old": [], "new": []}
        for _ in range(args.reps):
            rate = one_repeat(trees, overrides, args)
            ratios.append(rate["new"] / rate["old"])
            for side in rates:
                rates[side].append(rate[side])
        row = {"case": name, "new_over_old": statistics.median(ratios), "min_ratio": min(ratios),
               "max_ratio": max(ratios), "old_it_per_s": statistics.median(rates["old"]),
               "new_it_per_s": statistics.median(rates["new"]), "ratios": ratios, "old_runs": rates["old"],
               "new_runs": rates["new"]}  # fmt: skip
        rows.append(row)
        print(f"{name:34s} new/old {row['new_over_old']:.3f} (repeats {', '.join(f'{r:.3f}' for r in ratios)}; "
              f"old {row['old_it_per_s']:.1f}, new {row['new_it_per_s']:.1f} it/s)", flush=True)  # fmt: skip
    command = " ".join(["python experiments/tree_speed.py", *(argv if argv is not None else sys.argv[1:])])
    meta = {"command": command, "pde": "burgers", "steps": args.steps, "chunk": args.chunk, "warm": args.warm,
            "reps": args.reps, "cpus": os.cpu_count()}  # fmt: skip
    columns = ["case", "new_over_old", "min_ratio", "max_ratio", "old_it_per_s", "new_it_per_s"]
    write_report("tree_speed", rows, meta, columns=columns)
    return 0 if all(r["new_over_old"] >= 0.95 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
