"""End-to-end training speed and accuracy against DeepXDE and PINA on the classic Burgers setup, side by side.

    python experiments/bench_peers.py                # pinnkit (autograd; taylor), the bare loops, DeepXDE, PINA
    python experiments/bench_peers.py --quick        # a few steps, for tests
    python experiments/bench_peers.py --to-accuracy  # time to accuracy: DeepXDE's full run vs pinnkit's recipe
    pip install -e ".[peers]"                        # DeepXDE 1.15 and PINA 0.3

The setup (Raissi et al. 2019, DeepXDE's Burgers example): ν = 0.01/π, a 3×20 tanh MLP (Glorot normal), 2540
interior + 80 boundary + 160 initial points drawn once from the Hammersley set (DeepXDE's default; pinnkit's
``data.sampler=hammersley``; PINA: random), the PDE residual at all 2780 of them (DeepXDE's residual set; pinnkit's
``data.residual_everywhere=true``; PINA: the 2540 interior ones), full batch, Adam lr 1e-3 for ``--adam`` steps, then
L-BFGS for ``--lbfgs`` pinnkit steps (up to 20 iterations each, history 100; DeepXDE: its own L-BFGS, history 100,
``maxiter`` 20 × ``--lbfgs``; PINA: Adam only). Each library runs in its own subprocess with the same torch thread
count; repeat ``r`` uses seed ``--seed + r`` everywhere. The clock runs from the library's train call to its end;
every ``--eval-every`` iterations (an L-BFGS step of pinnkit counts 20) the run is paused (time excluded) and the
relative L2 error against pinnkit's Cole-Hopf reference on the 100 × 256 grid is recorded. Reported, as medians over
the repeats: Adam it/s (steady state, after the first evaluation), time to rel L2 <= 1e-2, final rel L2. Writes
``bench_peers_<device>.{csv,json,png,md}`` to ``experiments/results/`` (``--out``) and prints the markdown table,
ratios to DeepXDE first.

Two library-free reference loops (``experiments/bare_burgers.py``) run on pinnkit's points and initial weights for
the same seed, with fused Adam and nothing else (no L-BFGS, no logging, no checks): ``bare-autograd`` (nested
reverse mode, the math of DeepXDE and of pinnkit's ``derivative=autograd``) and ``bare-taylor`` (a hand-written
4-channel forward Taylor step, ``u, u_t, u_x, u_xx``, compiled whole). They show what a loop costs without a
framework on the machine at hand.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from experiments.peer_setup import LBFGS_ITERS, ROOT, TARGET

RUNNERS = (
    "pinnkit-recipe",
    "pinnkit-autograd",
    "pinnkit-taylor",
    "pinnkit-taylor-step",
    "bare-autograd",
    "bare-taylor",
    "deepxde",
    "pina",
)


def summarize(name: str, result: dict, adam: int) -> dict:
    hist = result["history"]
    adam_pts = [h for h in hist if h[1] <= adam]
    first, last = adam_pts[0], adam_pts[-1]
    it_s = (last[1] - first[1]) / (last[0] - first[0]) if last[1] > first[1] else None
    reach = next((t for t, _, l2 in hist if l2 <= TARGET), None)
    return {"library": name, "version": result.get("version"), "adam_it_per_s": it_s, "time_to_1e-2_s": reach,
            "final_l2": hist[-1][2], "steps": hist[-1][1], "train_s": hist[-1][0]}  # fmt: skip


def median_row(rows: list[dict]) -> dict:
    """Medians over the repeats (one seed each): Adam it/s, time to rel L2 <= 1e-2 (a run that never gets there
    counts as infinitely slow) and final rel L2; every repeat's it/s, time and error alongside."""

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    ordered = sorted(rows, key=lambda r: r["adam_it_per_s"] or 0.0)
    row = dict(ordered[len(ordered) // 2])
    reach = median([math.inf if r["time_to_1e-2_s"] is None else r["time_to_1e-2_s"] for r in rows])
    row["time_to_1e-2_s"] = None if math.isinf(reach) else reach
    row["final_l2"] = median([r["final_l2"] for r in rows])
    row["reached"] = f"{sum(r['time_to_1e-2_s'] is not None for r in rows)}/{len(rows)}"
    row["repeats_it_per_s"] = " ".join(f"{r['adam_it_per_s']:.0f}" for r in rows if r["adam_it_per_s"])
    row["repeats_time_to_1e-2_s"] = " ".join("-" if r["time_to_1e-2_s"] is None else f"{r['time_to_1e-2_s']:.0f}"
                                             for r in rows)  # fmt: skip
    row["repeats_final_l2"] = " ".join(f"{r['final_l2']:.1e}" for r in rows)
    return row


def available(name: str) -> bool:
    from importlib.util import find_spec

    return name.startswith(("pinnkit", "bare")) or find_spec({"deepxde": "deepxde", "pina": "pina"}[name]) is not None


def parser() -> argparse.ArgumentParser:
    """The benchmark's options (their defaults are the runs :mod:`experiments.tree_speed` also times)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--adam", type=int, default=15000)
    p.add_argument("--lbfgs", type=int, default=500, help="pinnkit L-BFGS steps (x20 iterations for DeepXDE)")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--steps-per-batch",
        type=int,
        default=10,
        help="pinnkit optimizer steps per Lightning batch (steps_per_batch; 1: one step per batch)",
    )
    p.add_argument("--repeats", type=int, default=3, help="runs per library, interleaved; the median is reported")
    p.add_argument("--libs", default=",".join(RUNNERS), help=f"comma-separated, from {RUNNERS}")
    p.add_argument("--quick", action="store_true", help="60 Adam + 2 L-BFGS steps, pinnkit-autograd only")
    p.add_argument("--budget", type=float, default=0.0, help="stop DeepXDE after this much training time (s; 0: no)")
    p.add_argument(
        "--to-accuracy",
        action="store_true",
        help="DeepXDE (Adam 15000, then L-BFGS, up to --budget or 1200 s) vs experiment=burgers: time to accuracy",
    )
    p.add_argument("--out", type=Path, default=ROOT / "experiments" / "results")
    p.add_argument(
        "--pinnkit-override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Hydra override for pinnkit's runs, after the shared setup (repeatable), e.g. data.sampler=lhs",
    )
    p.add_argument(
        "--stop-below",
        type=float,
        default=0.0,
        help="stop pinnkit-recipe at rel L2 <= this (0: never; --to-accuracy: min(E, 1e-5) per seed)",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def main() -> None:
    args = parser().parse_args()
    if args.worker:
        sys.path.insert(0, str(ROOT))
        from experiments import peer_runners

        run = {"pinnkit-recipe": lambda: peer_runners.run_pinnkit_recipe(args),
               "pinnkit-autograd": lambda: peer_runners.run_pinnkit(args, "autograd"),
               "pinnkit-taylor": lambda: peer_runners.run_pinnkit(args, "taylor"),
               "pinnkit-taylor-step": lambda: peer_runners.run_pinnkit(args, "taylor", whole_step=True),
               "bare-autograd": lambda: peer_runners.run_bare(args, "autograd"),
               "bare-taylor": lambda: peer_runners.run_bare(args, "taylor"),
               "deepxde": lambda: peer_runners.run_deepxde(args),
               "pina": lambda: peer_runners.run_pina(args)}[args.worker]  # fmt: skip
        print("RESULT " + json.dumps(run()))
        return
    if args.quick:
        args.adam, args.lbfgs, args.eval_every, args.libs, args.repeats = 60, 2, 20, "pinnkit-autograd", 1
        args.steps_per_batch = 2
    if args.to_accuracy:  # DeepXDE's L-BFGS runs until its own convergence or the budget
        args.libs, args.lbfgs, args.budget = "deepxde,pinnkit-recipe", 10**5, args.budget or 1200.0
        from experiments.peer_accuracy import stop_level
    libs = [name.strip() for name in args.libs.split(",") if name.strip()]
    unknown = set(libs) - set(RUNNERS)
    if unknown:
        raise SystemExit(f"unknown --libs {sorted(unknown)}; valid: {RUNNERS}")
    missing = [name for name in libs if not available(name)]
    for name in missing:
        print(f"{name}: not installed (pip install -e '.[peers]'), skipped", file=sys.stderr)
    libs = [name for name in libs if name not in missing]
    runs: dict[str, list[dict]] = {name: [] for name in libs}
    curves, per_seed = {}, {}
    for rep in range(args.repeats):  # interleaved, so a noisy stretch of the machine hits every library alike
        seed = args.seed + rep
        for name in libs:  # repeat r: seed + r for every library (accuracy over seeds, speed over repeats)
            stop = args.stop_below
            if args.to_accuracy and name == "pinnkit-recipe":  # DeepXDE ran first: its E for this seed is known
                stop = stop_level(per_seed[seed]["deepxde"])
            cmd = [sys.executable, __file__, "--worker", name, *(f"--{k.replace('_', '-')}={getattr(args, k)}"
                   for k in ("adam", "lbfgs", "eval_every", "threads", "steps_per_batch", "budget")),
                   f"--seed={seed}", f"--stop-below={stop}",
                   *(f"--pinnkit-override={o}" for o in args.pinnkit_override)]  # fmt: skip
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT)}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
            result = json.loads(line[7:])
            curves.setdefault(name, result["history"])
            per_seed.setdefault(seed, {})[name] = result["history"]
            runs[name].append(summarize(name, result, args.adam))
    if args.to_accuracy:
        write_accuracy(per_seed, args)
        return
    write([median_row(r) for r in runs.values()], curves, args)


def write_accuracy(per_seed: dict, args) -> None:
    """The time-to-accuracy report (:mod:`experiments.peer_accuracy`), seed by seed, and its error-vs-time plot."""
    from experiments.peer_accuracy import report
    from experiments.report import write_report

    seeds = sorted(per_seed)
    header = (f"Burgers: DeepXDE's classic run (Adam {args.adam} at lr 1e-3, then L-BFGS, up to {args.budget:.0f} s) "
              f"vs pinnkit's experiment=burgers (stopped once below every level), seeds {seeds[0]}..{seeds[-1]}, "
              f"{args.threads} threads, CPU ({os.cpu_count()} cores visible), one run after the other; errors every "
              f"{args.eval_every} iterations, off the clock")  # fmt: skip
    text, found, median = report(per_seed, header)
    print(text)
    meta = {"command": " ".join(["python", *sys.argv]), "args": {k: str(v) for k, v in vars(args).items()}}
    best = {r["seed"]: r["E"] for r in found}
    write_report("bench_peers_accuracy_cpu", found, meta, out=args.out, table=text,
                 extra={"curves": per_seed, "E": best, "median_ratio_to_E": median})  # fmt: skip
    lines = {f"{name}, seed {seed}": hist for seed in seeds for name, hist in per_seed[seed].items()}
    plot(lines, args.out / "bench_peers_accuracy_cpu.png", min(best.values()))


def write(rows: list[dict], curves: dict, args) -> None:
    sys.path.insert(0, str(ROOT))
    from experiments.report import write_report

    name = "bench_peers_quick" if args.quick else "bench_peers_cpu"
    stem = args.out / name
    base = next((r for r in rows if r["library"] == "deepxde"), None)
    lines = [f"Burgers, 3×20 tanh, 2540+80+160 fixed points, Adam {args.adam} + L-BFGS {args.lbfgs * LBFGS_ITERS} "
             f"iterations, {args.threads} threads, CPU ({os.cpu_count()} cores visible), medians of {args.repeats} "
             f"interleaved runs, seeds {args.seed}..{args.seed + args.repeats - 1} (each run in the CSV)", "",
             "| library | Adam it/s | vs DeepXDE | time to rel L2 ≤ 1e-2 | runs that reach it | final rel L2 | "
             "iterations | train s |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        ratio = f"{r['adam_it_per_s'] / base['adam_it_per_s']:.2f}×" if base and r["adam_it_per_s"] else "–"
        reach = f"{r['time_to_1e-2_s']:.1f} s" if r["time_to_1e-2_s"] is not None else "not reached"
        it_s = f"{r['adam_it_per_s']:.0f}" if r["adam_it_per_s"] else "–"
        lines.append(f"| {r['library']} {r['version']} | {it_s} | {ratio} | {reach} | {r['reached']} | "
                     f"{r['final_l2']:.2e} | {r['steps']} | {r['train_s']:.1f} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    meta = {"command": " ".join(["python", *sys.argv]), "args": {k: str(v) for k, v in vars(args).items()}}
    write_report(name, rows, meta, out=args.out, extra={"curves": curves}, table=table)
    plot(curves, stem.with_suffix(".png"), TARGET)


def plot(curves: dict, path: Path, level: float) -> None:
    """Error against training time, one line per runner, a dotted line at ``level``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pinnkit.atomic import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    runners, styles = {}, ("-", "--", ":", "-.")
    for name, hist in curves.items():  # one colour per runner ("name" or "name, seed k"), one line style per seed
        runner = name.split(",")[0]
        seen = runners.setdefault(runner, [])
        seen.append(name)
        colour, style = f"C{list(runners).index(runner)}", styles[(len(seen) - 1) % len(styles)]
        ax.semilogy([h[0] for h in hist], [h[2] for h in hist], label=name, color=colour, ls=style)
    ax.axhline(level, color="gray", ls=":")
    ax.set(xlabel="training wall time (s)", ylabel="rel L2 vs Cole-Hopf", title="Burgers: error vs time")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
