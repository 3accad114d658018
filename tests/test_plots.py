"""The figures: prediction and reference on one colour scale, the signed error centred at 0, the first plotted axis
horizontal, slices and loss curves written; without a reference, the prediction alone."""

from __future__ import annotations

import numpy as np

from pinnkit.plots import heatmaps, main, plot_losses, plot_slices, plot_solution
from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_train import SHORT


def _solution(shift: float = 0.0, ref: bool = True, lead: bool = False):
    x, y = np.linspace(0, 1, 3), np.linspace(-1, 1, 5)
    pred = (np.sin(3 * x)[:, None] + y[None, :] + shift)[..., None]  # (3, 5, 1)
    coords = {"x": x, "y": y}
    if lead:
        coords = {"t": np.linspace(0, 2, 3), **coords}
        pred = np.stack([pred * k for k in (1.0, 2.0, 3.0)])
    return coords, pred, (pred + 0.1 if ref else None)


def test_prediction_and_reference_share_a_scale_and_the_error_is_centred():
    rows, note = heatmaps(_solution(), ("u",))
    pred, ref, err = rows[0]
    assert note == "" and [p["title"] for p in rows[0]] == ["u: prediction", "u: reference",
                                                            "u: error (prediction - reference)"]  # fmt: skip
    assert (pred["vmin"], pred["vmax"], pred["cmap"]) == (ref["vmin"], ref["vmax"], ref["cmap"])
    lo = min(pred["c"].min(), ref["c"].min())
    hi = max(pred["c"].max(), ref["c"].max())
    assert pred["cmap"] == "RdBu_r" and pred["vmin"] == -max(-lo, hi) and pred["vmax"] == max(-lo, hi)  # sign: centred
    assert err["cmap"] == "RdBu_r" and err["vmin"] == -err["vmax"] and np.isclose(err["vmax"], 0.1)
    assert np.allclose(err["c"], -0.1)  # signed, not |error|


def test_one_signed_data_gets_a_sequential_scale_over_both():
    rows, _ = heatmaps(_solution(shift=5.0), ("u",))
    pred, ref, _ = rows[0]
    assert pred["cmap"] == "viridis" and pred["vmin"] == pred["c"].min() and pred["vmax"] == ref["c"].max()


def test_the_first_axis_is_horizontal_and_leading_axes_are_sliced():
    rows, _ = heatmaps(_solution(), ("u",))
    panel = rows[0][0]
    assert (panel["xlabel"], panel["ylabel"]) == ("x", "y") and panel["c"].shape == (5, 3)  # (len(v), len(h))
    assert np.array_equal(panel["h"], np.linspace(0, 1, 3))
    assert np.array_equal(panel["c"][:, 1], _solution()[1][1, :, 0])  # column k: the values at x_k along y
    rows, note = heatmaps(_solution(lead=True), ("u",))
    assert note == "t = 1" and np.allclose(rows[0][0]["c"], 2.0 * _solution()[1][..., 0].T)  # the middle time


def test_without_a_reference_only_the_prediction_is_drawn(tmp_path):
    rows, _ = heatmaps(_solution(ref=False), ("u",))
    assert [p["title"] for p in rows[0]] == ["u: prediction"]
    assert plot_solution(_solution(ref=False), ("u",), tmp_path / "s.png").stat().st_size > 0
    assert plot_slices(_solution(ref=False), ("u",), tmp_path / "l.png").stat().st_size > 0


def test_loss_curves_from_a_metrics_file(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,step,train/loss,train/loss_pde,train/loss_bc,val/l2_rel,lr-Adam\n"
                   "0,0,1.0,0.6,0.4,,0.001\n0,1,0.5,0.3,0.2,0.9,0.001\n")  # fmt: skip
    assert plot_losses(csv, tmp_path / "losses.png").stat().st_size > 0
    csv.write_text("epoch,step,perf/it_per_s\n0,0,10.0\n")
    assert plot_losses(csv, tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()


def test_a_run_writes_every_figure_and_the_cli_redraws_them(tmp_path, capsys):
    train(compose_cfg(tmp_path / "run", *SHORT))
    names = sorted(p.name for p in (tmp_path / "run" / "plots").glob("*.png"))
    assert names == ["losses.png", "slices_step0000002.png", "slices_step0000004.png", "solution_step0000002.png",
                     "solution_step0000004.png"]  # fmt: skip
    main([str(tmp_path / "run" / "checkpoints" / "last.ckpt"), "--out", str(tmp_path / "redrawn")])
    assert sorted(p.name for p in (tmp_path / "redrawn").iterdir()) == ["slices.png", "solution.png"]
    assert "wrote" in capsys.readouterr().out
