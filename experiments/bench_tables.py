"""Tables and plots of the derivative-backend benchmark's rows."""

from __future__ import annotations

from pathlib import Path


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
