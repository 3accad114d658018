"""The one report writer of experiments/: rows of results as ``<name>.csv``, ``<name>.json`` (rows and the run's
metadata: command, device, date, versions) and ``<name>.md`` (a Markdown table), each written atomically."""

from __future__ import annotations

import datetime
import json
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def fmt(v: object) -> str:
    """A table cell: floats in 3 significant digits, ``None`` as a dash."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def markdown(rows: Sequence[Mapping], columns: Sequence[str] | None = None) -> str:
    """A Markdown table of ``rows`` over ``columns`` (default: the first row's keys)."""
    cols = list(columns or rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def metadata(device: str | None = None) -> dict:
    """Where and when: the device (default: this machine's CPU), date (UTC), Python and torch versions."""
    import torch

    return {
        "device": device or f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def write_report(
    name: str,
    rows: Sequence[Mapping],
    meta: Mapping | None = None,
    out: Path = RESULTS,
    columns: Sequence[str] | None = None,
    extra: Mapping | None = None,
    table: str | None = None,
) -> Path:
    """Write ``out/<name>.{csv,json,md}``; ``meta`` joins :func:`metadata` in the JSON and under the table,
    ``extra`` (e.g. curves) goes into the JSON only; ``table`` replaces the generic Markdown table. Returns the
    Markdown file's path."""
    from pinnkit.atomic import write_csv, write_text

    if not rows:
        raise ValueError(f"report {name!r} has no rows")
    meta = {**metadata(), **(meta or {})}
    cols = list(columns or rows[0])
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / f"{name}.csv", [dict(r) for r in rows], cols)
    write_text(
        out / f"{name}.json", json.dumps({"meta": meta, "rows": list(rows), **(extra or {})}, indent=1, default=str)
    )
    note = ", ".join(f"{k}: {v}" for k, v in meta.items() if k in ("command", "device", "date"))
    write_text(out / f"{name}.md", (table or markdown(rows, cols)).rstrip("\n") + f"\n\n{note}\n")
    return out / f"{name}.md"
