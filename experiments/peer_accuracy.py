"""Time to accuracy against DeepXDE (``python experiments/bench_peers.py --to-accuracy``): DeepXDE's classic Burgers
run (Adam 15000 iterations at lr 1e-3, then its L-BFGS) for up to ``--budget`` seconds of training, and pinnkit's
Burgers recipe (``experiment=burgers``) beside it, one after the other on the whole CPU, for each seed. With E the
lowest rel L2 DeepXDE reaches on that seed, each runner's training time to rel L2 <= 1e-2, 1e-3, 1e-4, 1e-5 and to
E, from the error history recorded every ``--eval-every`` iterations off the clock (a time is that of the first
record at or below the level: resolution one evaluation interval). pinnkit's run stops once it is below every one
of these levels (:func:`stop_level`): later records cannot change a time to a level. Writes
``bench_peers_accuracy_cpu.{md,csv,json,png}``.
"""

from __future__ import annotations

import math
import statistics

LEVELS = (1e-2, 1e-3, 1e-4, 1e-5)


def time_to(history: list, level: float) -> float | None:
    """The training time of the first record with rel L2 <= ``level`` (``None``: never)."""
    return next((t for t, _, l2 in history if l2 <= level), None)


def stop_level(baseline_history: list) -> float:
    """The level below which every time to accuracy is known: min(E, the lowest of :data:`LEVELS`)."""
    return min(min(l2 for _, _, l2 in baseline_history), LEVELS[-1])


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


def fmt(v: float | None) -> str:
    """A time to a level, or ``not reached``."""
    return "not reached" if v is None else f"{v:.0f} s" if v >= 10 else f"{v:.1f} s"


def table(rows_: list[dict], best: float, header: str) -> str:
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


def report(per_seed: dict[int, dict[str, list]], header: str) -> tuple[str, list[dict], float | None]:
    """Each seed's table, then one line per seed (E, both times to E, the ratio) and the median ratio over seeds
    (``None`` if any seed's pinnkit run never reached E: a median would hide it). Returns the markdown, every row
    (with its seed) and the median ratio."""
    blocks, summary, all_rows, ratios = [], [], [], []
    for seed, curves in sorted(per_seed.items()):
        found, best = rows(curves)
        blocks.append(table(found, best, f"### Seed {seed}"))
        all_rows += [{"seed": seed, "E": best} | r for r in found]
        base = next(r for r in found if r["runner"] == "deepxde")
        pk = next(r for r in found if r["runner"] != "deepxde")
        ratios.append(pk["speedup_to_E"])
        ratio = "never reached E" if pk["speedup_to_E"] is None else f"{pk['speedup_to_E']:.1f}×"
        summary.append(f"| {seed} | {best:.2e} | {fmt(base['time_to_E_s'])} | {fmt(pk['time_to_E_s'])} | {ratio} |")
    median = None if None in ratios else statistics.median(ratios)
    head = [header, "", "| seed | E (DeepXDE's lowest rel L2) | DeepXDE's time to E | pinnkit's time to E | ratio |",
            "|---|---|---|---|---|", *summary, "",
            f"Median ratio over {len(ratios)} seeds: " + ("– (a seed never reached E)" if median is None
                                                          else f"**{median:.1f}×**"), ""]  # fmt: skip
    return "\n".join([*head, "\n\n".join(blocks)]), all_rows, median
