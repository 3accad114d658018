"""One PINN training step per derivative backend, side by side: time, ratios, peak memory.

A step is: values and the needed derivatives at ``n`` points, the residual, its mean square, the backward to
the parameters. Each backend is compared with ``plain`` (forward + backward of the same net on the same
points, no derivatives) and with ``autograd``. Cases cover point counts, width/depth, input dim d and output
dim m. The backends of a case are timed interleaved, one step of each per round, and every ratio is the median
over rounds of the same-round ratio, so a noisy machine's slow stretches cancel out (on CPU in one fresh
subprocess per case). Memory is measured apart: on CPU each (case, backend) in its own subprocess, so its peak
RSS is its own; on CUDA the peak is ``torch.cuda.max_memory_allocated``. Peaks are taken over the timed steps,
above the memory held before them (after warm-up and compilation), i.e. what the step itself allocates.

    python experiments/bench_derivatives.py                    # default CPU run (< 10 min on 2 cores)
    python experiments/bench_derivatives.py --device cuda --preset gpu

Writes ``experiments/results/bench_derivatives_<device>[_<preset>].{csv,json,png}`` (e.g. ``_cpu_core`` for
``--preset cpu-core``) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments.bench_cases import BACKENDS, COMPILED, CUDA_ONLY, NOT_DEFAULT, PRESETS, Case, case_pde
from experiments.bench_tables import pivot, plot, table
from experiments.report import write_report
from experiments.timing import _subprocess, _sync, peak_mb, ratios, time_rounds

RESULTS = Path(__file__).parent / "results"


def build_step(case: Case, backend: str, device: str, dtype: str = "float32") -> Callable[[], None]:
    """One training step of ``backend`` on ``case`` through :class:`pinnkit.loss.PINNLoss`, as training takes it:
    derivatives, residual, mean square, weighted total, backward to the parameters (``+step``: the loss compiled
    whole, as ``compile_step=true`` trains)."""
    import torch

    from pinnkit.derivatives import get_backend
    from pinnkit.loss import PINNLoss
    from pinnkit.nets import MLP
    from pinnkit.points import Batch

    torch.manual_seed(0)
    dev = torch.device(device)
    net = MLP(case.d, case.m, case.width, case.depth, "tanh", False).to(dev, getattr(torch, dtype))
    x = torch.rand(case.n, case.d, device=dev, dtype=getattr(torch, dtype))
    params = list(net.parameters())
    if backend == "plain":

        def step():
            loss = net(x).square().mean()
            torch.autograd.grad(loss, params)

        return step
    name, _, comp = backend.partition("+")
    loss = PINNLoss(case_pde(case), get_backend(name, **COMPILED.get(comp, {})))  # (+step: backend uncompiled)
    batch, weights = Batch({"pde": x}), torch.ones(1, device=dev, dtype=x.dtype)
    fn = loss.__call__
    if comp in ("step", "stepgraph"):
        fn = torch.compile(fn, dynamic=False, mode="reduce-overhead" if comp == "stepgraph" else None)

    def step():
        torch.autograd.grad(fn(net, batch, weights)[0], params, allow_unused=True)

    return step


def build_warm(case: Case, backends: Sequence[str], device: str, warmup: int) -> tuple[dict, dict[str, dict]]:
    """Every backend's step, built and run ``warmup`` times (compilation included): ``(steps, results)``, where
    ``results[backend]`` is ``{"times": []}`` or ``{"error": ...}`` if it failed to build or run (one backend's
    failure is a result, the others go on)."""
    steps: dict[str, Callable[[], None]] = {}
    out: dict[str, dict] = {}
    for backend in backends:
        try:
            steps[backend] = build_step(case, backend, device)
            for _ in range(warmup):  # includes compilation for compiled backends
                steps[backend]()
            out[backend] = {"times": []}
        except Exception as err:
            out[backend] = {"error": str(err).splitlines()[0][:200] if str(err) else type(err).__name__}
            steps.pop(backend, None)
    return steps, out


def time_interleaved(case: Case, backends: Sequence[str], device: str, reps: int, warmup: int) -> dict[str, dict]:
    """Step times of every backend on ``case``, interleaved (:func:`time_rounds`): per backend
    ``{"times": [s, ...]}`` (one per round) or ``{"error": ...}``."""
    steps, out = build_warm(case, backends, device, warmup)
    time_rounds(steps, out, device, reps)
    return out


def measure(case: Case, backend: str, device: str, reps: int, warmup: int, dtype: str = "float32") -> dict:
    """Median step time (ms) and peak memory (MB above what was held before the timed steps) of one backend.

    On CPU the peak is read from the kernel's RSS high-water mark; it tracks live tensors only when large
    allocations are returned to the OS on free, which :func:`run_isolated` arranges (``MALLOC_MMAP_THRESHOLD_``)
    in a separate process from the timing one.
    """
    step = build_step(case, backend, device, dtype)
    sync = _sync(device)
    for _ in range(warmup):  # includes compilation for compiled backends
        step()
    times = []

    def timed():
        for _ in range(reps):
            sync()
            t0 = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - t0)

    peak = peak_mb(timed, device)
    return {"ms": statistics.median(times) * 1e3, "peak_mb": peak}


def run_isolated(case: Case, backends: Sequence[str], device: str, reps: int, warmup: int) -> dict[str, dict]:
    """CPU: time every backend interleaved in one fresh subprocess, then take each backend's memory peak in a
    subprocess of its own whose allocator returns every block over 64 KiB to the OS on free (so RSS follows
    live tensors; too slow to time with)."""
    head = "import json; from experiments.bench_derivatives import Case, measure, time_interleaved; "
    times = _subprocess(head + f"print('RESULT', json.dumps(time_interleaved(Case(**{asdict(case)!r}), "
                               f"{list(backends)!r}, {device!r}, {reps}, {warmup})))")  # fmt: skip
    if "error" in times:
        times = {b: {"error": times["error"]} for b in backends}
    res = ratios(times)
    for backend, r in res.items():
        r["peak_mb"] = None
        if r["ms"] is not None:
            mem = _subprocess(head + f"print('RESULT', json.dumps(measure(Case(**{asdict(case)!r}), {backend!r}, "
                                     f"{device!r}, 1, 1)))",
                              {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"})  # fmt: skip
            r["peak_mb"] = mem.get("peak_mb")
    return res


def cuda_run(case: Case, backends: Sequence[str], device: str, reps: int, warmup: int) -> dict[str, dict]:
    """CUDA: time every backend interleaved in this process, then each one's ``max_memory_allocated`` peak over
    one more step of the same built (and compiled) step."""
    import torch

    steps, times = build_warm(case, backends, device, warmup)
    time_rounds(steps, times, device, reps)
    res = ratios(times)
    for backend, r in res.items():
        r["peak_mb"] = None
        if backend in steps:
            r["peak_mb"] = peak_mb(steps[backend], device)
    steps.clear()
    torch.cuda.empty_cache()
    return res


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--preset", default=None, choices=sorted(PRESETS), help="case list (default: the device's)")
    p.add_argument("--backends", nargs="+", default=None, choices=BACKENDS,
                   help=f"default: all but {', '.join(NOT_DEFAULT)} (on CPU also but {', '.join(CUDA_ONLY)}, "
                        "which need CUDA)")  # fmt: skip
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    if args.backends is None:
        cuda = args.device.startswith("cuda")
        args.backends = [b for b in BACKENDS if b not in NOT_DEFAULT and (cuda or b not in CUDA_ONLY)]
    if "plain" not in args.backends or "autograd" not in args.backends:
        p.error("--backends must include plain and autograd (the ratios are taken to them)")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    # every case builds its compiled steps anew in this process (on CPU, one process per case): without a higher
    # limit dynamo stops compiling a frame after 8 versions and runs the later cases' steps eagerly
    torch._dynamo.config.recompile_limit = 64
    preset = args.preset or ("gpu" if args.device.startswith("cuda") else "cpu")
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    device_label = f"{args.device} ({device_name}, {torch.get_num_threads()} threads)"
    rows = []
    tag = output_tag(args.device, args.preset)
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / f"bench_derivatives_{tag}.partial.jsonl"
    partial.unlink(missing_ok=True)
    done: list[str] = []
    from pinnkit.atomic import write_text

    for case in PRESETS[preset]:
        run = cuda_run if args.device.startswith("cuda") else run_isolated
        res = run(case, args.backends, args.device, args.reps, args.warmup)
        for backend, r in res.items():
            print(f"  {case.label:40s} {backend:15s} {r}", file=sys.stderr, flush=True)
            done.append(json.dumps({"case": asdict(case), "backend": backend, **r}))
            write_text(partial, "\n".join(done) + "\n")  # kept, whole, even if the run is cut short
            rows.append({
                "case": case.name, "d": case.d, "m": case.m, "n": case.n, "width": case.width, "depth": case.depth,
                "backend": backend, "ms": r["ms"], "x_plain": r["x_plain"],
                "speedup_vs_autograd": r["speedup_vs_autograd"], "peak_mb": r["peak_mb"],
                "error": r.get("error", ""), "device": device_label,
            })  # fmt: skip
    write(rows, args.out, tag, device_label)
    partial.unlink()
    return rows


def output_tag(device: str, preset: str | None) -> str:
    """The results' file tag: the device type, plus the preset when one is named (``cuda``, ``cpu_core`` for
    ``--preset cpu-core``), so a preset's run does not overwrite the default run's files."""
    kind = device.split(":")[0]
    if preset is None:
        return kind
    return f"{kind}_{preset.removeprefix('cpu-').removeprefix('gpu-').replace('-', '_')}"


def write(rows: list[dict], out: Path, tag: str, device_label: str) -> None:
    stem = f"bench_derivatives_{tag}"
    write_report(stem, rows, {"device": device_label, "command": " ".join(["python", *sys.argv])}, out=out)
    plot(rows, out / f"{stem}.png", device_label)
    print(f"Device: {device_label}\n\nSpeedup vs autograd of one training step:\n")
    print(pivot(rows))
    print("\nAll figures:\n")
    print(table(rows))


if __name__ == "__main__":
    main()
