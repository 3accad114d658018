"""Timing and memory helpers of the benchmarks: interleaved rounds, same-round ratios, peak memory, a fresh
interpreter per measurement."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SLOW_S = 0.5  # a step this slow is timed without an untimed step before it in each round


def _sync(device: str) -> Callable[[], None]:
    import torch

    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


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
