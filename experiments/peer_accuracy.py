"""Time to accuracy against DeepXDE (``python experiments/bench_peers.py --to-accuracy``): DeepXDE's classic Burgers
run (Adam 15000 iterations at lr 1e-3, then its L-BFGS) for up to ``--budget`` seconds of training, and pinnkit's
Burgers recipe (``experiment=burgers``) beside it, one after the other on the whole CPU. With E the lowest rel L2
DeepXDE reaches, each runner's training time to rel L2 <= 1e-2, 1e-3, 1e-4, 1e-5 and to E, from the error history
recorded every ``--eval-every`` iterations off the clock (a time is that of the first record at or below the
level: resolution one evaluation interval). Writes ``bench_peers_accuracy_cpu.{md,csv,json,png}``.
"""

from __future__ import annotations

import math

LEVELS = (1e-2, 1e-3, 1e-4, 1e-5)


def time_to(history: list, level: float) -> float | None:
    """The training time of the first record with rel L2 <= ``level`` (``None``: never)."""
    return next((t for t, _, l2 in history if l2 <= level), None)


def rows(curves: dict[str, list], baseline: str = "deepxde") -> tuple[list[dict], float]:
    """One row per runner, and E (the baseline's lowest rel L2)."""
    best = min(l2 for _, _, l2 in curves[baseline])
    out = []
    for name, hist in curves.items():
        row = {"runner": name, "final_l2": hist[-1][2], "lowest_l2": min(h[2] for h in hist),
               "iterations": hist[-1][1], "train_s": hist[-1][0]}  # fmt: skip
        row |= {f"time_to_{lv:g}_s": time_to(hist, lv) for lv in LEVELS}
        row["time_to_E_s"] = time_to(hist, best)
        out.append(row)
    base = next(r for r in out if r["runner"] == baseline)
    for r in out:
        ratio = base["time_to_E_s"] / r["time_to_E_s"] if r["time_to_E_s"] else None
        r["speedup_to_E"] = ratio
    return out, best


def table(rows_: list[dict], best: float, header: str) -> str:
    def fmt(v: float | None) -> str:
        return "not reached" if v is None else f"{v:.0f} s" if v >= 10 else f"{v:.1f} s"

    lines = [header, "", f"E = {best:.2e} (DeepXDE's lowest rel L2)", "",
             "| runner | time to 1e-2 | 1e-3 | 1e-4 | 1e-5 | time to E | DeepXDE's time to E / this | lowest rel L2 "
             "| final rel L2 | iterations | train time |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows_:
        times = " | ".join(fmt(r[f"time_to_{lv:g}_s"]) for lv in LEVELS)
        ratio = "–" if r["speedup_to_E"] is None or math.isinf(r["speedup_to_E"]) else f"{r['speedup_to_E']:.1f}×"
        lines.append(f"| {r['runner']} | {times} | {fmt(r['time_to_E_s'])} | {ratio} | {r['lowest_l2']:.2e} | "
                     f"{r['final_l2']:.2e} | {r['iterations']} | {r['train_s']:.0f} s |")  # fmt: skip
    return "\n".join(lines)
