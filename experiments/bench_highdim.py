"""One training step of the d-dimensional Poisson problem against d: exact and estimated Laplacians, side by side.

Methods (a 4×128 tanh MLP, float32, the loss of ``pde=poisson_hd`` through :class:`pinnkit.loss.PINNLoss`):

- ``nested``: the exact Laplacian by nested reverse mode (``autograd``: d second-order passes);
- ``collapsed``: the exact Laplacian as one collapsed Taylor channel (``taylor``; d first-order channels);
- ``hvp-S``: Hutchinson's estimate from S Rademacher directions through Hessian-vector products (``batched_grad``:
  one batched grad call over the directions);
- ``taylor-S``: the same estimate from the same directions as Taylor jets (``taylor``: S first-order channels
  and one collapsed channel);
- ``+step``: the whole loss compiled, as ``derivative=taylor compile_step=true`` trains.

The methods of a case are timed interleaved, one step of each per round; ratios are medians of same-round ratios
(speed-ups to ``nested``, and of ``taylor-S`` to ``hvp-S``). Compilation happens in the warm-up, untimed. Peak
memory is taken apart, one fresh process per (case, method), above what the process held before the step (its inputs
and the net included), so the ``N·d`` input floor shows in the table as the ``input MB`` column. A method whose step
is predicted (from the case below it, linear in d for the exact ones) to take over ``--max-step-s`` or ``--max-mb``
is not run; its row gives the estimate.

    python experiments/bench_highdim.py                 # the CPU table (~20 min on 2 cores)
    python experiments/bench_highdim.py --quick         # d ∈ {4, 8}, a few points: the pipeline only

Writes ``experiments/results/bench_highdim_<device>.{csv,json,md,png}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments.report import write_report
from experiments.timing import _subprocess, peak_mb, time_rounds

RESULTS = Path(__file__).parent / "results"
CASES = [(10, 256), (100, 256), (1000, 256), (10000, 256), (100, 1024)]  # (d, N)
QUICK = [(4, 32), (8, 32)]
SAMPLES = (16, 64)
EXACT = {"nested": "autograd", "collapsed": "taylor"}
ESTIMATED = {"hvp": "batched_grad", "taylor": "taylor"}


def methods(samples: tuple[int, ...] = SAMPLES) -> list[str]:
    """Every method's name; ``+step``: the whole loss compiled (``compile_step=true``, how ``taylor`` trains)."""
    est = [n for s in samples for n in (f"hvp-{s}", f"taylor-{s}", f"taylor-{s}+step")]
    return ["nested", "collapsed", "collapsed+step", *est]


def build_step(d: int, n: int, method: str, width: int = 128, depth: int = 4):
    """One training step of ``method`` at ``n`` points in ``d`` dimensions: ``step()`` (the inputs, the net and
    this step's directions are built here, outside it)."""
    import torch

    from pinnkit.derivatives import get_backend
    from pinnkit.loss import PINNLoss
    from pinnkit.nets import MLP
    from pinnkit.pdes import PoissonHD
    from pinnkit.points import Batch

    base, _, compiled = method.partition("+")
    name, _, s = base.partition("-")
    estimator = {"samples": int(s)} if s else None
    pde = PoissonHD(d=d, estimator=estimator, hard=True, val_points=1)
    loss = PINNLoss(pde, get_backend(EXACT.get(name) or ESTIMATED[name]))
    torch.manual_seed(0)
    net = MLP(d, 1, width, depth, "tanh", False)
    gen = torch.Generator().manual_seed(1)
    x = pde.domain.sample("interior", n, gen, torch.float32)
    batch = Batch({"pde": x}, directions=loss.directions(0, 0, torch.float32, torch.device("cpu")))
    weights, params = torch.ones(1), list(net.parameters())
    fn = loss.compiled() if compiled else loss

    def step() -> None:
        torch.autograd.grad(fn(net, batch, weights)[0], params, allow_unused=True)

    return step


def time_case(d: int, n: int, names: list[str], reps: int) -> dict[str, dict]:
    """Interleaved step times of ``names`` at ``(d, n)``: ``{method: {"times": [...]}}`` or ``{"error": ...}``."""
    steps, out = {}, {}
    for m in names:
        try:
            steps[m] = build_step(d, n, m)
            steps[m]()  # warm-up
            out[m] = {"times": []}
        except Exception as err:  # one method's failure is a result, the others go on
            out[m] = {"error": str(err).splitlines()[0][:200] if str(err) else type(err).__name__}
            steps.pop(m, None)
    time_rounds(steps, out, "cpu", reps)
    return out


def memory(d: int, n: int, method: str) -> dict:
    """Peak MB of one step above what was held before it (built and warmed up first)."""
    step = build_step(d, n, method)
    step()
    return {"peak_mb": peak_mb(step, "cpu")}


def _same_round(times: dict[str, dict], num: str, den: str) -> float | None:
    a, b = times.get(num, {}).get("times"), times.get(den, {}).get("times")
    if not a or not b:
        return None
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def predict(prev: dict | None, method: str, d: int, n: int) -> tuple[float, float] | None:
    """``(seconds, MB)`` of ``method`` at ``(d, n)`` from its row at a smaller d with the same n: exact methods
    grow linearly in d, estimated ones not at all (their input aside)."""
    if prev is None or prev.get("ms") is None:
        return None
    scale = d / prev["d"] if method.split("+")[0] in EXACT else 1.0
    return prev["ms"] / 1e3 * scale, (prev.get("peak_mb") or 0.0) * scale


def run(cases: list[tuple[int, int]], samples: tuple[int, ...], reps: int, max_step_s: float, max_mb: float) -> list:
    rows: list[dict] = []
    head = "import json; from experiments.bench_highdim import memory, time_case; "
    for d, n in cases:
        todo, skipped = [], {}
        for m in methods(samples):
            prev = next((r for r in reversed(rows) if r["method"] == m and r["n"] == n and r["d"] < d), None)
            est = predict(prev, m, d, n)
            if est is not None and (est[0] > max_step_s or est[1] > max_mb):
                skipped[m] = est
            else:
                todo.append(m)
        times = _subprocess(head + f"print('RESULT', json.dumps(time_case({d}, {n}, {todo!r}, {reps})))")
        if "error" in times:
            times = {m: {"error": times["error"]} for m in todo}
        for m in methods(samples):
            row = {"d": d, "n": n, "method": m, "ms": None, "speedup_vs_nested": None, "taylor_vs_hvp": None,
                   "peak_mb": None, "input_mb": n * d * 4 / 2**20, "note": ""}  # fmt: skip
            if m in skipped:
                s, mb = skipped[m]
                row["note"] = f"not run: estimated {s:.0f} s a step, {mb:.0f} MB"
            elif "error" in times.get(m, {}):
                row["note"] = f"failed: {times[m]['error']}"
            else:
                row["ms"] = statistics.median(times[m]["times"]) * 1e3
                row["speedup_vs_nested"] = _same_round(times, "nested", m)
                if m.startswith("taylor-"):
                    row["taylor_vs_hvp"] = _same_round(times, "hvp-" + m.split("-")[1].split("+")[0], m)
                mem = _subprocess(head + f"print('RESULT', json.dumps(memory({d}, {n}, {m!r})))",
                                  {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"})  # fmt: skip
                row["peak_mb"] = mem.get("peak_mb")
            print(f"  d={d:6d} N={n:5d} {m:10s} {row}", file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    def f(v, spec):
        return "–" if v is None else format(v, spec)

    out = ["| d | N | method | ms / step | × faster than nested | taylor vs hvp (same S) | peak MB | input MB | note |",
           "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        cells = [r["d"], r["n"], r["method"], f(r["ms"], ".1f"), f(r["speedup_vs_nested"], ".1f"),
                 f(r["taylor_vs_hvp"], ".2f"), f(r["peak_mb"], ".0f"), f"{r['input_mb']:.1f}", r["note"]]  # fmt: skip
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(out)


def plot(rows: list[dict], path: Path, device: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n0 = rows[0]["n"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for m in dict.fromkeys(r["method"] for r in rows):
        pts = [r for r in rows if r["method"] == m and r["n"] == n0 and r["ms"] is not None]
        if pts:
            axes[0].loglog([r["d"] for r in pts], [r["ms"] for r in pts], "o-", label=m)
            mem = [r for r in pts if r["peak_mb"]]
            axes[1].loglog([r["d"] for r in mem], [r["peak_mb"] for r in mem], "o-", label=m)
    for ax, what in zip(axes, ("ms per training step", "peak MB of the step"), strict=True):
        ax.set_xlabel("d")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Poisson in d dimensions, N = {n0} points, 4×128 tanh MLP — {device}", fontsize=9)
    fig.tight_layout()
    from pinnkit.atomic import save_figure

    save_figure(fig, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny cases: checks the pipeline, no figures to quote")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--max-step-s", type=float, default=60.0)
    p.add_argument("--max-mb", type=float, default=8000.0)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    import platform

    import torch

    device = f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    cases, samples = (QUICK, (2, 4)) if args.quick else (CASES, SAMPLES)
    rows = run(cases, samples, 2 if args.quick else args.reps, args.max_step_s, args.max_mb)
    stem = "bench_highdim_cpu" + ("_quick" if args.quick else "")
    meta = {"device": device, "command": " ".join(["python", *sys.argv])}
    write_report(stem, rows, meta, out=args.out, table=table(rows))
    plot(rows, args.out / f"{stem}.png", device)
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
