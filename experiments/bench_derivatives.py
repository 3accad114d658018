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
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
BACKENDS = (
    "plain",
    "autograd",
    "batched_grad",
    "functional",
    "func",
    "func_fwd",
    "taylor",
    "taylor+compile",
    "taylor+cudagraph",
    "taylor+autotune",
    "taylor+step",
    "taylor+stepgraph",
)
CUDA_ONLY = ("taylor+cudagraph", "taylor+stepgraph")
SLOW_S = 0.5  # a step this slow is timed without an untimed step before it in each round
# compile modes left out of the default run (not backends; autotuning alone pushed the default CPU run past 10 min)
NOT_DEFAULT = ("taylor+autotune",)
# "taylor+cudagraph": compiled with mode="reduce-overhead" (CUDA graphs); on CPU it is the same as taylor+compile.
# "taylor+autotune": compiled with mode="max-autotune-no-cudagraphs" (inductor tries GEMM templates and tilings).
# "taylor+step": the whole loss (jets, residual, mean square) compiled as one graph, as compile_step=true trains.
# "taylor+stepgraph": taylor+step with mode="reduce-overhead": the whole loss and its backward as CUDA graphs.
COMPILED = {
    "compile": {"compile": True},
    "cudagraph": {"compile": True, "compile_mode": "reduce-overhead"},
    "autotune": {"compile": True, "compile_mode": "max-autotune-no-cudagraphs"},
}


@dataclass(frozen=True)
class Case:
    name: str
    d: int
    m: int
    n: int
    width: int
    depth: int

    @property
    def axes(self) -> tuple[str, ...]:
        return ("t", "x") if self.name == "heat" else tuple(f"x{i}" for i in range(self.d))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f"u{i}" for i in range(self.m)) if self.m > 1 else ("u",)

    @property
    def needs(self) -> tuple[str, ...] | None:
        from pinnkit.derivatives.base import combination, laplacian  # (torch: imported after --threads is set)

        if self.name == "heat":  # u_t - 0.1 u_xx, asked for as the Heat PDE asks: one combination
            return (combination("u", {"t": 1.0, "xx": -0.1}),)
        if self.name == "laplace":
            return (laplacian("u", self.axes),)
        return None  # "full": the full jac and hess of every field

    def residual(self, out):
        if self.name == "heat":
            return out[self.needs[0]]
        if self.name == "laplace":
            return out[self.needs[0]] + out.u[..., 0]
        return out.hess.diagonal(dim1=-2, dim2=-1).sum(-1) + out.jac.sum(-1)  # (N, m)

    @property
    def label(self) -> str:
        return f"{self.name} d={self.d} m={self.m} n={self.n} {self.depth}x{self.width}"


PRESETS = {
    "cpu": [
        Case("heat", 2, 1, 4096, 64, 4),
        Case("laplace", 2, 1, 4096, 64, 4),
        Case("laplace", 10, 1, 4096, 64, 4),
        Case("heat", 2, 1, 1024, 64, 4),
        Case("heat", 2, 1, 4096, 128, 6),
        Case("full", 3, 3, 1024, 64, 4),
    ],
    "gpu": [
        Case("heat", 2, 1, 65536, 128, 4),
        Case("laplace", 2, 1, 65536, 128, 4),
        Case("laplace", 10, 1, 65536, 128, 4),
        Case("heat", 2, 1, 16384, 128, 4),
        Case("heat", 2, 1, 262144, 128, 4),
        Case("heat", 2, 1, 65536, 256, 6),
        Case("full", 3, 3, 16384, 128, 4),
    ],
}
PRESETS["gpu-core"] = PRESETS["gpu"][:3]  # the three bars (heat, Laplacian d=2 and d=10) alone
PRESETS["cpu-core"] = PRESETS["cpu"][:3]
PRESETS["smoke"] = [Case("heat", 2, 1, 64, 8, 2), Case("laplace", 3, 1, 64, 8, 2), Case("full", 3, 3, 32, 8, 2)]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so the peak covers the timed steps, not imports/compilation."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def build_step(case: Case, backend: str, device: str, dtype: str = "float32") -> Callable[[], None]:
    """One training step of ``backend`` on ``case``: derivatives, residual, mean square, backward to params."""
    import torch

    from pinnkit.derivatives import get_backend
    from pinnkit.derivatives.base import make_request
    from pinnkit.nets import MLP

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
    b = get_backend(name, **COMPILED.get(comp, {}))  # (taylor+step*: the backend uncompiled, the loss compiled)
    req = make_request(case.needs, case.fields, case.axes)  # parsed once, as a training module does

    def loss_fn():
        return case.residual(b(net, x, req)).square().mean()

    if comp in ("step", "stepgraph"):
        loss_fn = torch.compile(loss_fn, dynamic=False, mode="reduce-overhead" if comp == "stepgraph" else None)

    def step():
        torch.autograd.grad(loss_fn(), params, allow_unused=True)

    return step


def _sync(device: str) -> Callable[[], None]:
    import torch

    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


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


def time_rounds(steps: dict[str, Callable[[], None]], out: dict[str, dict], device: str, reps: int) -> None:
    """Append one timed step of every backend per round to ``out[backend]["times"]``, interleaved: round ``r``
    runs each backend in turn (an untimed step of it first, so its buffers are warm, unless its steps take over
    ``SLOW_S``: d=10 ``func_fwd``'s 4 s steps would otherwise push the default CPU run past 10 minutes), so a slow
    stretch of a noisy machine hits them all alike."""
    sync = _sync(device)
    for _ in range(reps):
        for backend, step in steps.items():
            times = out[backend]["times"]
            if not times or times[-1] < SLOW_S:
                step()
                sync()
            t0 = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - t0)


def time_interleaved(case: Case, backends: Sequence[str], device: str, reps: int, warmup: int) -> dict[str, dict]:
    """Step times of every backend on ``case``, interleaved (:func:`time_rounds`): per backend
    ``{"times": [s, ...]}`` (one per round) or ``{"error": ...}``."""
    steps, out = build_warm(case, backends, device, warmup)
    time_rounds(steps, out, device, reps)
    return out


def ratios(times: dict[str, dict]) -> dict[str, dict]:
    """Per backend: median step time (ms), and the medians over rounds of the same-round ratios
    ``t_backend / t_plain`` and ``t_autograd / t_backend``."""
    out = {}
    for backend, r in times.items():
        if "error" in r:
            out[backend] = {"ms": None, "x_plain": None, "speedup_vs_autograd": None, "error": r["error"]}
            continue
        t = r["times"]
        row = {"ms": statistics.median(t) * 1e3, "x_plain": None, "speedup_vs_autograd": None}
        for key, ref, flip in (("x_plain", "plain", False), ("speedup_vs_autograd", "autograd", True)):
            if "times" in times.get(ref, {}):
                pairs = zip(t, times[ref]["times"], strict=True)
                row[key] = statistics.median([(b / a) if flip else (a / b) for a, b in pairs])
        out[backend] = row
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


def peak_mb(run: Callable[[], object], device: str) -> float:
    """Peak memory (MB) while ``run()`` runs, above what was held before it: ``max_memory_allocated`` on CUDA,
    the RSS high-water mark on CPU (see :func:`measure`)."""
    import torch

    dev = torch.device(device)
    if dev.type != "cuda":
        _reset_peak_rss()
        base = _rss_mb()
        run()
        return _peak_rss_mb() - base
    torch.cuda.synchronize(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev)
    run()
    torch.cuda.synchronize(dev)
    return (torch.cuda.max_memory_allocated(dev) - base) / 2**20


def _subprocess(code: str, env: dict | None = None) -> dict:
    """Run ``code`` (which prints ``RESULT <json>``) in a fresh interpreter; ``{"error": ...}`` if it fails."""
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": tail[:200]}


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


def _label(r: dict) -> str:
    return f"{r['case']} d={r['d']} m={r['m']} n={r['n']} {r['depth']}×{r['width']}"


def pivot(rows: list[dict]) -> str:
    """Cases by backends: speedup vs autograd (higher is better), then the best backend's × plain."""
    backends = [b for b in dict.fromkeys(r["backend"] for r in rows) if b != "plain"]
    head = ["| case | " + " | ".join(backends) + " | best × plain fwd+bwd |", "|---" * (len(backends) + 2) + "|"]
    lines = []
    for label in dict.fromkeys(_label(r) for r in rows):
        by = {r["backend"]: r for r in rows if _label(r) == label}
        cells = [f"{by[b]['speedup_vs_autograd']:.2f}" if by.get(b, {}).get("ms") else "–" for b in backends]
        timed = [by[b] for b in backends if by.get(b, {}).get("ms")]
        best = min(timed, key=lambda r: r["ms"])
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {best['x_plain']:.2f} ({best['backend']}) |")
    return "\n".join(head + lines)


def table(rows: list[dict]) -> str:
    out = ["| case | backend | speedup vs autograd | × plain fwd+bwd | ms | peak MB |", "|---|---|---|---|---|---|"]
    for r in rows:
        label = _label(r)
        if r["ms"] is None:
            out.append(f"| {label} | {r['backend']} | failed: {r['error']} | | | |")
            continue
        out.append(
            f"| {label} | {r['backend']} | {r['speedup_vs_autograd']:.2f} | {r['x_plain']:.2f} | {r['ms']:.2f} | "
            f"{r['peak_mb']:.0f} |"
        )
    return "\n".join(out)


def write(rows: list[dict], out: Path, tag: str, device_label: str) -> None:
    from pinnkit.atomic import write_csv, write_text

    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"bench_derivatives_{tag}"
    write_csv(stem.with_suffix(".csv"), rows, list(rows[0]))
    write_text(stem.with_suffix(".json"), json.dumps({"device": device_label, "rows": rows}, indent=1))
    plot(rows, stem.with_suffix(".png"), device_label)
    print(f"Device: {device_label}\n\nSpeedup vs autograd of one training step:\n")
    print(pivot(rows))
    print("\nAll figures:\n")
    print(table(rows))


def plot(rows: list[dict], path: Path, device_label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(f"{r['case']} d={r['d']}\nn={r['n']} {r['depth']}×{r['width']}" for r in rows))
    backends = list(dict.fromkeys(r["backend"] for r in rows if r["backend"] != "plain"))
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(labels)), 4.5))
    w = 0.8 / len(backends)
    for k, b in enumerate(backends):
        vals = []
        for lab in labels:
            match = [
                r
                for r in rows
                if r["backend"] == b and f"{r['case']} d={r['d']}\nn={r['n']} {r['depth']}×{r['width']}" == lab
            ]
            vals.append(match[0]["speedup_vs_autograd"] or 0 if match else 0)
        ax.bar([i + k * w for i in range(len(labels))], vals, w, label=b)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks([i + 0.4 - w / 2 for i in range(len(labels))], labels, fontsize=7)
    ax.set_ylabel("speedup vs autograd (higher is better)")
    ax.set_title(f"One PINN training step, {device_label}", fontsize=9)
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    from pinnkit.atomic import save_figure

    save_figure(fig, path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
