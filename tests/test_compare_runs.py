"""``experiments/compare_runs.py`` aggregates seeds (mean ± std, median) and plots each loss term."""

from __future__ import annotations

from experiments.compare_runs import plot_terms, seed_table


def _run(label: str, l2: float | None, rate: float, status: str = "ok") -> dict:
    hist = [{"step": s, "train/loss_pde": 1.0 / (s + 1), "train/loss_bc": 0.5 / (s + 1)} for s in range(3)]
    return {"label": label, "status": status, "val/l2_rel": l2, "it_per_s": rate, "history": hist}


def test_seeds_of_one_setting_are_aggregated():
    runs = [_run(f"lr=0.1 seed={k}", l2, 10.0 + k) for k, l2 in enumerate([1e-3, 2e-3, 3e-3])]
    runs += [_run("lr=0.2 seed=0", 5e-3, 20.0), _run("lr=0.2 seed=1", None, 0.0, status="no summary.json")]
    table = seed_table(runs)
    assert "| lr=0.1 | 3 | 2.00e-03 ± 1.0e-03 | 2.00e-03 | 11.0 ± 1.0 |" in table
    assert "| lr=0.2 | 1 | 5.00e-03 ± 0.0e+00 | 5.00e-03 | 20.0 ± 0.0 |" in table  # the crashed seed left out
    assert seed_table([_run("lr=0.1 seed=0", 1e-3, 1.0), _run("lr=0.2 seed=0", 1e-3, 1.0)]) is None


def test_each_loss_term_gets_a_panel(tmp_path):
    plot_terms([_run("a", 1e-3, 1.0), _run("b", 1e-3, 1.0)], tmp_path / "terms.png")
    assert (tmp_path / "terms.png").stat().st_size > 0
