"""Short training runs: every backend trains, metrics and summary.json are written, checks run, W&B offline."""

from __future__ import annotations

import csv
import json
import math
import time

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from pinnkit.build import build
from pinnkit.derivatives.checks import NotPointwiseError
from pinnkit.pdes import PDES
from pinnkit.train import train
from tests.conftest import ALL_BACKENDS, SMALL_GRIDS, compose_cfg

SHORT = ["trainer.max_steps=4", "trainer.val_check_interval=2", "trainer.log_every_n_steps=1",
         "trainer.enable_progress_bar=false", "model.width=8", "model.depth=2"]  # fmt: skip


def read_metrics(run_dir):
    (path,) = run_dir.glob("csv/version_*/metrics.csv")
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("derivative", ALL_BACKENDS)
def test_short_training_per_backend(tmp_path, derivative):
    summary = train(compose_cfg(tmp_path, f"derivative={derivative}", "pde.hard=false", *SHORT))
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["steps"] == summary["steps"] == 4
    assert on_disk["derivative"] == derivative and on_disk["pde"] == "heat"
    assert math.isfinite(on_disk["val/l2_rel"]) and on_disk["config"]["derivative"]["_target_"]
    keys = set().union(*(row.keys() for row in read_metrics(tmp_path)))
    expected = {"train/loss", "train/loss_pde", "train/loss_ic", "train/loss_bc", "val/l2_rel", "perf/it_per_s"}
    assert expected <= keys
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()


def test_training_reduces_the_loss_and_error(tmp_path):
    cfg = compose_cfg(tmp_path, "trainer.max_steps=300", "trainer.val_check_interval=300",
                      "trainer.log_every_n_steps=10", "trainer.enable_progress_bar=false")  # fmt: skip
    summary = train(cfg)
    rows = [r for r in read_metrics(tmp_path) if r.get("train/loss")]
    losses = [float(r["train/loss"]) for r in rows]
    assert losses[-1] < 0.1 * losses[0]
    assert summary["val/l2_rel"] < 0.2


@pytest.mark.parametrize("pde", sorted(PDES))
def test_every_pde_trains_a_few_steps(tmp_path, pde):
    small = ["data.points.interior=256", "data.points.initial=32", "data.points.boundary=32", "data.points.periodic=32",
             "data.val_points=64"]  # fmt: skip
    cfg = compose_cfg(tmp_path, f"pde={pde}", "derivative=taylor", *SHORT, *small, *SMALL_GRIDS.get(pde, []))
    summary = train(cfg)
    assert summary["steps"] == 4 and math.isfinite(summary[summary["objective"]]) and math.isfinite(summary["val/loss"])
    assert all(math.isfinite(summary[f"train/loss_{t.name}"]) for t in instantiate(cfg.pde).terms())


def test_float64_end_to_end(tmp_path):
    cfg = compose_cfg(tmp_path, "trainer.precision=64", *SHORT)
    summary = train(cfg)
    assert summary["config"]["trainer"]["precision"] == 64
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert all(v.dtype == torch.float64 for k, v in ckpt["state_dict"].items() if v.is_floating_point())


def test_checks_reject_batchnorm_at_start(tmp_path):
    import lightning as L

    module = build(compose_cfg(tmp_path, *SHORT))
    module.net = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        inference_mode=False)  # fmt: skip
    with pytest.raises(NotPointwiseError, match="BatchNorm1d"):
        trainer.fit(module)


def test_logged_values_are_written_under_the_step_that_computed_them(tmp_path):
    """Lightning writes logged values after steps k·n - 1 (n = log_every_n_steps); values logged on other steps
    were written up to n - 1 steps late under a later step's number (the step-0 loss appeared as step n - 1)."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback
    from lightning.pytorch.loggers.logger import Logger

    class Record(Logger):
        name, version = "record", 0

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[tuple[int, dict]] = []

        def log_hyperparams(self, *args, **kwargs) -> None:
            pass

        def log_metrics(self, metrics, step=None) -> None:
            self.rows.append((step, dict(metrics)))

    class Returned(Callback):  # the loss each step's training_step returned, by step
        def __init__(self) -> None:
            self.loss: dict[int, float] = {}

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            self.loss[trainer.global_step - 1] = float(outputs["loss"])

    module = build(compose_cfg(tmp_path, *SHORT))
    record, returned = Record(), Returned()
    trainer = L.Trainer(max_steps=9, log_every_n_steps=3, logger=record, callbacks=[returned], limit_val_batches=0,
                        enable_checkpointing=False, enable_progress_bar=False, inference_mode=False)  # fmt: skip
    trainer.fit(module)
    logged = {step: m["train/loss"] for step, m in record.rows if "train/loss" in m}
    assert sorted(logged) == [2, 5, 8]
    assert len(set(returned.loss.values())) == 9  # the loss changes every step: a stale value could not match
    for step, value in logged.items():
        assert value == pytest.approx(returned.loss[step], rel=1e-6)


def test_several_steps_per_batch_train_and_log_exactly_as_one(tmp_path):
    """steps_per_batch=3: the same losses at the same logged steps, validation on the same steps, the same count."""
    base = ["trainer.max_steps=12", "trainer.val_check_interval=6", "trainer.log_every_n_steps=3",
            "trainer.enable_progress_bar=false", "model.width=8", "model.depth=2", "optim.second_from=9"]  # fmt: skip
    keys = ("train/loss", "val/l2_rel", "lr-Adam")
    rows = {}
    for k in (1, 3):
        run = tmp_path / f"k{k}"
        summary = train(compose_cfg(run, *base, f"steps_per_batch={k}"))
        assert summary["steps"] == 12
        rows[k] = [(r["step"], key, float(r[key])) for r in read_metrics(run) for key in keys if r.get(key)]
    assert [s for s, key, _ in rows[1] if key == "train/loss"] == ["2", "5", "8", "11"]  # Adam and L-BFGS steps
    assert [(s, key) for s, key, _ in rows[3]] == [(s, key) for s, key, _ in rows[1]]
    for (_, _, v3), (_, _, v1) in zip(rows[3], rows[1], strict=True):
        assert v3 == pytest.approx(v1, rel=1e-6)


def test_steps_per_batch_needs_cadences_in_whole_batches_and_its_callback(tmp_path):
    import lightning as L

    with pytest.raises(ValueError, match=r"steps_per_batch=4.*val_check_interval=2.*multiples of 4"):
        train(compose_cfg(tmp_path, *SHORT, "steps_per_batch=4"))
    module = build(compose_cfg(tmp_path, *SHORT, "steps_per_batch=2"))
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        inference_mode=False)  # fmt: skip
    with pytest.raises(ValueError, match="StepsPerBatch"):
        trainer.fit(module)


def test_compile_step_trains_as_the_eager_step_and_refuses_autograd(tmp_path):
    losses = {}
    # grad-norm balancing moves its weights in place between the compiled forward and its backward (every 2 steps)
    for flag in ("false", "true"):
        run = tmp_path / flag
        # compiled once: a recompilation (the jets' cache filled during the trace did that, without the start-up
        # checks' eager call filling it first) doubles start-up
        with torch._dynamo.config.patch(error_on_recompile=True):
            train(compose_cfg(run, *SHORT, "derivative=taylor", f"compile_step={flag}", "pde=burgers",
                              "balance.every=2", "checks=false"))  # fmt: skip
        weights = [r["train/weight_ic"] for r in read_metrics(run) if r.get("train/weight_ic")]
        losses[flag] = [float(r["train/loss"]) for r in read_metrics(run) if r.get("train/loss")]
    assert len(losses["true"]) == 4
    assert float(weights[-1]) != 1.0  # the balancing did move the weights
    assert losses["true"] == pytest.approx(losses["false"], rel=1e-5)
    with pytest.raises(ValueError, match=r"compile_step=true.*'autograd'.*derivative=taylor"):
        train(compose_cfg(tmp_path / "bad", *SHORT, "derivative=autograd", "compile_step=true"))


class BackwardProbe(L.Callback):
    """Records whether the step calls ``loss.backward()`` directly (read once training runs)."""

    def __init__(self) -> None:
        self.direct: bool | None = None

    def on_train_batch_start(self, trainer, module, *args) -> None:
        self.direct = module._direct_backward


class GradientHook(BackwardProbe):
    """A callback on the backward, as gradient-logging callbacks are: Lightning's wrapper must call it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def on_after_backward(self, trainer, module) -> None:
        self.calls += 1


def test_backward_skips_lightnings_wrapper_only_where_it_would_do_nothing(tmp_path):
    probe, hook = BackwardProbe(), GradientHook()
    train(compose_cfg(tmp_path / "direct", *SHORT), callbacks=[probe])
    train(compose_cfg(tmp_path / "hooked", *SHORT), callbacks=[hook])
    assert probe.direct is True  # one CPU device, 32-true, no profiler, no backward hook
    assert hook.direct is False and hook.calls == 4  # every step's backward reached the callback
    losses = [[r["train/loss"] for r in read_metrics(tmp_path / run) if r.get("train/loss")] for run in ("direct",
              "hooked")]  # fmt: skip
    assert len(losses[0]) == 4 and losses[0] == losses[1]  # the same gradients either way, to the bit


TINY_POINTS = ["model.width=8", "model.depth=2", "data.points.interior=64", "data.points.boundary=16",
               "data.points.initial=16", "data.points.periodic=16"]  # fmt: skip


@pytest.mark.parametrize(
    "overrides",
    [[f"pde={name}"] for name in sorted(PDES)]
    + [
        ["pde=burgers", "pde.hard=true"],
        ["pde=allen_cahn", "model=modified_mlp", "causal.chunks=4"],
        ["pde=kdv", "model.rwf=true", "model.fourier_features=4"],
        ["pde=heat", "fuse_terms=false"],
        ["pde=burgers", "data.residual_everywhere=true"],
    ],
    ids=lambda ov: "-".join(o.split("=")[1] for o in ov),
)
def test_compile_step_is_one_graph(tmp_path, overrides):
    """A graph break splits the compiled loss into pieces with eager glue between them (measured on Burgers:
    149 it/s with one break in the request parsing, 258 it/s without)."""
    module = build(compose_cfg(tmp_path, *overrides, "derivative=taylor", *TINY_POINTS))
    explained = torch._dynamo.explain(module.loss_fn.__call__)(module.net, module.sample(0), module.balance_weights)
    assert explained.graph_break_count == 0, [str(r.reason)[:200] for r in explained.break_reasons]
    assert explained.graph_count == 1


def test_wandb_offline_run(tmp_path):
    cfg = compose_cfg(tmp_path, "logger=wandb", *SHORT)
    train(cfg)
    import wandb

    # wandb-core writes the record file from its own service process; shutting the service down flushes it,
    # and the short poll covers a slow machine where the close lands a moment after teardown returns.
    wandb.teardown()
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    (record,) = run.glob("*.wandb")
    keys = (
        b"train/loss_pde",
        b"val/l2_rel",
        b"perf/it_per_s",
        b"perf/deriv_ms",
        b"lr-Adam",
        b"val/solution",
        b"peak_mem_mb",  # the run's summary
        b"results-",  # the artifact: solution.npz and the best checkpoint
        b"git_sha",
        b"heat",
        b"autograd",
    )
    deadline = time.monotonic() + 30
    while not all(k in record.read_bytes() for k in keys) and time.monotonic() < deadline:
        time.sleep(0.5)
    data = record.read_bytes()
    for key in keys:
        assert key in data, key
    assert list(run.glob("files/media/images/val/solution_*.png"))  # the heatmaps, as W&B images


def test_inverse_problem_learns_its_coefficient(tmp_path):
    summary = train(compose_cfg(tmp_path, "pde=burgers_inverse", "pde.n_obs=64", *SHORT))
    learned = summary["learned"]
    assert learned["nu_true"] == pytest.approx(0.01 / math.pi)
    assert learned["nu"] != pytest.approx(0.05, rel=1e-6)  # ν is trained with the network (Adam moved it)
    with open(next(tmp_path.glob("csv/*/metrics.csv"))) as f:
        assert "pde/nu" in next(csv.reader(f))
    assert "train/loss_data" in summary


def test_max_time_ends_the_run_cleanly_with_its_summary_and_solution(tmp_path):
    """``trainer.max_time`` (Lightning's Timer) stops a run early; the final validation, summary.json and
    solution.npz are still written."""
    cfg = compose_cfg(tmp_path, *SHORT, "trainer.max_steps=100000", "trainer.max_time=00:00:00:02")
    summary = train(cfg)
    assert 0 < summary["steps"] < 100000 and math.isfinite(summary["val/l2_rel"])
    assert (tmp_path / "summary.json").is_file() and (tmp_path / "solution.npz").is_file()


def test_only_the_phase_that_took_the_step_logs_its_learning_rate(tmp_path):
    """No ``lr-LBFGS`` while Adam runs (once logged as a constant 1 throughout); from the switch on it is logged
    every step (Lightning repeats the last logged ``lr-Adam`` within the run's one epoch)."""
    train(compose_cfg(tmp_path, "trainer.max_steps=8", "trainer.log_every_n_steps=1", "optim.second_from=4",
                      "trainer.val_check_interval=4", "trainer.enable_progress_bar=false", "model.width=8",
                      "model.depth=2"))  # fmt: skip
    rows = read_metrics(tmp_path)
    adam = [int(r["step"]) for r in rows if r.get("lr-Adam")]
    lbfgs = [int(r["step"]) for r in rows if r.get("lr-LBFGS")]
    assert lbfgs == [4, 5, 6, 7] and adam[:4] == [0, 1, 2, 3]
