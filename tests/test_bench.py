"""The derivative benchmark script runs, measures what it says, and writes its CSV/JSON/PNG and table."""

from __future__ import annotations

import json

from experiments.bench_derivatives import PRESETS, Case, measure, output_tag, ratios, table, time_interleaved, write


def test_measure_every_backend_on_a_tiny_case():
    case = Case("heat", 2, 1, 32, 8, 2)
    for backend in ("plain", "autograd", "taylor"):
        r = measure(case, backend, "cpu", reps=2, warmup=1)
        assert r["ms"] > 0 and r["peak_mb"] is not None


def test_interleaved_timing_takes_same_round_ratios():
    """Ratios are medians of same-round ratios: a round where the machine is 10x slow for every backend moves
    no ratio; a backend that fails to build is reported, and the others are still timed."""
    times = {"plain": {"times": [1.0, 10.0, 1.0]}, "autograd": {"times": [4.0, 40.0, 4.0]},
             "taylor": {"times": [2.0, 20.0, 2.0]}, "func": {"error": "boom"}}  # fmt: skip
    r = ratios(times)
    assert r["taylor"]["speedup_vs_autograd"] == 2.0 and r["taylor"]["x_plain"] == 2.0
    assert r["autograd"]["x_plain"] == 4.0 and r["taylor"]["ms"] == 2000.0
    assert r["func"] == {"ms": None, "x_plain": None, "speedup_vs_autograd": None, "error": "boom"}
    live = time_interleaved(Case("heat", 2, 1, 32, 8, 2), ["plain", "autograd", "nope"], "cpu", reps=2, warmup=1)
    assert len(live["plain"]["times"]) == len(live["autograd"]["times"]) == 2
    assert "nope" in live["nope"]["error"]  # an unknown backend's error names it


def test_cases_build_the_residual_they_name():
    heat, lap, full = PRESETS["smoke"]
    assert heat.needs == ("u_t+-0.1*u_xx",)  # what pinnkit's Heat asks for
    assert lap.needs == ("u_x0x0+u_x1x1+u_x2x2",)
    assert full.needs is None and full.fields == ("u0", "u1", "u2")


def test_a_named_preset_writes_its_own_files():
    assert output_tag("cpu", None) == "cpu" and output_tag("cuda:0", None) == "cuda"
    assert output_tag("cpu", "cpu-core") == "cpu_core" and output_tag("cuda", "gpu-core") == "cuda_core"
    assert output_tag("cpu", "smoke") == "cpu_smoke"


def test_write_outputs_and_table(tmp_path):
    rows = []
    for backend, ms in (("plain", 1.0), ("autograd", 4.0), ("taylor", 2.0)):
        rows.append({"case": "heat", "d": 2, "m": 1, "n": 32, "width": 8, "depth": 2, "backend": backend, "ms": ms,
                     "x_plain": ms / 1.0, "speedup_vs_autograd": 4.0 / ms, "peak_mb": 1.0, "error": "",
                     "device": "cpu"})  # fmt: skip
    rows.append({**rows[-1], "backend": "func", "ms": None, "x_plain": None, "speedup_vs_autograd": None,
                 "peak_mb": None, "error": "boom"})  # fmt: skip
    write(rows, tmp_path, "cpu", "cpu (test)")
    data = json.loads((tmp_path / "bench_derivatives_cpu.json").read_text())
    assert data["meta"]["device"] == "cpu (test)" and len(data["rows"]) == 4
    assert (tmp_path / "bench_derivatives_cpu.png").stat().st_size > 0
    md = table(rows)
    assert "| heat d=2 m=1 n=32 2×8 | taylor | 2.00 | 2.00 |" in md and "failed: boom" in md


def test_peer_benchmark_quick_mode_writes_its_table(tmp_path):
    """`bench_peers.py --quick`: pinnkit's worker runs in its subprocess (Adam then L-BFGS), the tracker records
    the error against the Cole-Hopf reference, and the table, CSV, JSON and PNG are written."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "experiments/bench_peers.py", "--quick", "--out", str(tmp_path)],
                          cwd=root, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| pinnkit-autograd" in proc.stdout and "Adam it/s" in proc.stdout
    data = json.loads((tmp_path / "bench_peers_quick.json").read_text())
    (row,) = data["rows"]
    hist = data["curves"]["pinnkit-autograd"]
    # every 20 iterations, seen at batch ends (2 steps a batch in quick mode): Adam steps, then the two L-BFGS
    # steps, which count 20 iterations each (DeepXDE's unit)
    assert [h[1] for h in hist] == [20, 40, 60, 100]
    assert row["adam_it_per_s"] > 0 and 0 < row["final_l2"] < 1.5 and row["steps"] == 100 and row["reached"] == "0/1"
    assert hist[-1][0] > hist[0][0] > 0  # training time grows; evaluations are not counted in it
    for ext in ("md", "csv", "png"):
        assert (tmp_path / f"bench_peers_quick.{ext}").stat().st_size > 0


def test_peer_medians_count_a_run_that_never_reaches_the_target_as_slowest():
    from experiments.bench_peers import median_row

    runs = [{"adam_it_per_s": v, "time_to_1e-2_s": t, "final_l2": e}
            for v, t, e in [(100, 50.0, 8e-3), (120, None, 2e-2), (110, 70.0, 9e-3)]]  # fmt: skip
    row = median_row(runs)
    assert row["adam_it_per_s"] == 110 and row["time_to_1e-2_s"] == 70.0 and row["final_l2"] == 9e-3
    assert row["reached"] == "2/3" and row["repeats_time_to_1e-2_s"] == "50 - 70"
    runs[0]["time_to_1e-2_s"] = None
    assert median_row(runs)["time_to_1e-2_s"] is None  # two of three never got there


def test_bare_reference_losses_are_pinnkits_burgers_loss():
    """The peer benchmark's library-free loops compute pinnkit's Burgers loss (residual at every point, initial and
    boundary terms from the tail rows), by nested autograd and by the hand Taylor pass, on a copy of its net."""
    import math

    import torch
    from hydra import compose, initialize_config_dir

    from experiments.bare_burgers import autograd_loss, mlp_like, taylor_loss
    from pinnkit.build import build
    from pinnkit.train import CONF_DIR

    overrides = ["pde=burgers", "pde.hard=false", "model.width=8", "model.depth=3", "model.normalize=false",
                 "data.points.interior=50", "data.points.boundary=6", "data.points.initial=10",
                 "data.residual_everywhere=true", "trainer.precision=64", "logger=csv",
                 "paths.output_dir=/unused"]  # fmt: skip
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        module = build(compose("train", overrides=overrides))
    batch = module.sample(0)
    pts = batch.points
    x, n_ic, n_bc = pts["pde"], pts["ic"].shape[0], pts["bc"].shape[0]
    assert torch.equal(x[-n_bc:], pts["bc"]) and torch.equal(x[-n_bc - n_ic : -n_bc], pts["ic"])
    expected = sum(module.loss_fn.term_losses(module.net, batch)[0].values()).detach()
    net = mlp_like(list(module.net.linears)).double()
    nu = module.pde.nu_true
    for loss in (autograd_loss, taylor_loss):
        got = loss(net, x, n_ic, n_bc, nu).detach()
        assert math.isclose(float(got), float(expected), rel_tol=1e-10), (loss.__name__, float(got), float(expected))
    # and the gradients the loops train with are the same
    g_ag = torch.autograd.grad(autograd_loss(net, x, n_ic, n_bc, nu), list(net.parameters()))
    g_ty = torch.autograd.grad(taylor_loss(net, x, n_ic, n_bc, nu), list(net.parameters()))
    for a, b in zip(g_ag, g_ty, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_peer_benchmark_bare_worker_trains_and_tracks():
    """A bare reference worker runs on pinnkit's points and initial net: Adam only, its error recorded every
    ``--eval-every`` steps, training time excluding the evaluations. In-process (the worker's subprocess protocol,
    ``--worker NAME`` printing ``RESULT {json}``, is exercised by the quick-mode test above)."""
    import torch

    from experiments.bench_peers import parser
    from experiments.peer_runners import run_bare

    threads = torch.get_num_threads()
    args = parser().parse_args(["--worker", "bare-autograd", "--adam", "40", "--lbfgs", "0", "--eval-every", "20",
                                "--threads", str(threads)])  # fmt: skip
    result = json.loads(json.dumps(run_bare(args, "autograd")))  # what the worker prints is JSON
    hist = result["history"]
    assert [h[1] for h in hist] == [20, 40] and hist[1][0] > hist[0][0] > 0
    assert 0 < hist[1][2] < 1.5 and result["version"].startswith("torch ")


def test_time_to_accuracy_is_read_off_the_error_histories():
    """E is DeepXDE's lowest error; each runner's time to a level is its first record at or below it."""
    from experiments.peer_accuracy import rows, table

    curves = {"deepxde": [(1.0, 100, 5e-2), (10.0, 1000, 8e-3), (50.0, 5000, 9e-4), (90.0, 9000, 1.2e-3)],
              "pinnkit-recipe": [(0.5, 100, 2e-2), (2.0, 500, 5e-3), (5.0, 1000, 5e-4), (30, 8000, 3e-6)]}  # fmt: skip
    found, best = rows(curves)
    assert best == 9e-4
    dde, pk = found
    assert dde["time_to_0.01_s"] == 10.0 and dde["time_to_0.001_s"] == 50.0 and dde["time_to_0.0001_s"] is None
    assert pk["time_to_E_s"] == 5.0 and dde["time_to_E_s"] == 50.0 and pk["speedup_to_E"] == 10.0
    assert pk["time_to_1e-05_s"] == 30.0 and pk["lowest_l2"] == 3e-6
    text = table(found, best, "header")
    assert "E = 9.00e-04" in text and "| pinnkit-recipe | 2.0 s | 5.0 s | 30 s | 30 s | 5.0 s | 10.0× |" in text


def test_time_to_accuracy_reports_every_seed_and_the_median_ratio():
    """Each seed has its own E; the median ratio is over seeds, and a seed whose pinnkit run never reached E leaves
    no median (it would hide the miss); pinnkit may stop at min(E, 1e-5), where every time is known."""
    from experiments.peer_accuracy import report, stop_level

    dde = [(10.0, 1000, 2e-2), (100.0, 9000, 4e-3)]
    per_seed = {0: {"deepxde": dde, "pinnkit-recipe": [(5.0, 100, 3e-3), (20.0, 900, 8e-6)]},
                1: {"deepxde": dde[:1], "pinnkit-recipe": [(2.0, 100, 1e-2)]},
                2: {"deepxde": dde, "pinnkit-recipe": [(50.0, 100, 3e-3)]}}  # fmt: skip
    text, found, median = report(per_seed, "header")
    assert median == 5.0  # seed ratios 20, 5, 2
    assert "| 0 | 4.00e-03 | 100 s | 5.0 s | 20.0× |" in text and "Median ratio over 3 seeds: **5.0×**" in text
    assert [(r["seed"], r["runner"]) for r in found][:2] == [(0, "deepxde"), (0, "pinnkit-recipe")]
    per_seed[2]["pinnkit-recipe"] = [(50.0, 100, 5e-3)]
    text, _, median = report(per_seed, "header")
    assert median is None and "never reached E" in text and "a seed never reached E" in text
    assert stop_level(dde) == 1e-5 and stop_level([(1.0, 1, 3e-6)]) == 3e-6


def test_peer_benchmark_recipe_worker_runs_the_burgers_recipe_and_tracks():
    """The time-to-accuracy runner trains ``experiment=burgers`` (shrunk here) with its error recorded every
    ``--eval-every`` optimizer steps through both phases, and stops at the first record below ``--stop-below``.
    In-process (the worker's subprocess protocol is exercised by the quick-mode test above)."""
    import torch

    from experiments.bench_peers import parser
    from experiments.peer_runners import run_pinnkit_recipe

    shrink = ["trainer.max_steps=30", "optim.second_from=15", "optim.resample_every=10", "data.points.interior=200",
              "model.width=8", "compile_step=false", "data.adaptive.pool=2"]  # fmt: skip
    argv = ["--worker", "pinnkit-recipe", "--eval-every", "10", "--threads", str(torch.get_num_threads()),
            *(f"--pinnkit-override={o}" for o in shrink)]  # fmt: skip
    result = json.loads(json.dumps(run_pinnkit_recipe(parser().parse_args(argv))))
    hist = result["history"]
    assert [h[1] for h in hist] == [10, 20, 30] and hist[2][0] > hist[1][0] > hist[0][0] > 0
    assert "experiment=burgers" in result["overrides"] and 0 < hist[2][2] < 1.5
    args = parser().parse_args([*argv, f"--stop-below={hist[0][2] * 1.01}"])  # reached at the first record
    assert [h[1] for h in run_pinnkit_recipe(args)["history"]] == [10]  # the run stops there


def test_highdim_benchmark_times_every_method_and_predicts_the_skipped():
    from experiments.bench_highdim import methods, predict, table, time_case

    names = methods((2,))
    assert names == ["nested", "collapsed", "collapsed+step", "hvp-2", "taylor-2", "taylor-2+step"]
    names = [n for n in names if "+step" not in n]  # (the compiled loss is tested on its own, in test_train.py)
    out = time_case(5, 16, names, 1)
    assert all(len(out[m]["times"]) == 1 for m in names), out
    # an exact method's step grows linearly in d, an estimated one's not; a skipped row says so
    prev = {"d": 100, "ms": 2000.0, "peak_mb": 100.0}
    assert predict(prev, "nested", 1000, 256) == (20.0, 1000.0)
    assert predict(prev, "taylor-16", 1000, 256) == (2.0, 100.0)
    row = {"d": 10, "n": 16, "method": "nested", "ms": None, "speedup_vs_nested": None, "taylor_vs_hvp": None,
           "peak_mb": None, "input_mb": 0.0, "note": "not run: estimated 99 s a step, 5 MB"}  # fmt: skip
    assert "| 10 | 16 | nested | – | – | – | – | 0.0 | not run: estimated 99 s" in table([row])
