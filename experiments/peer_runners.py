"""The runners of the peer benchmark, one per library, each called in the worker subprocess
:mod:`experiments.bench_peers` starts: pinnkit's own run, the library-free loops (:mod:`experiments.bare_burgers`),
DeepXDE and PINA on the same Burgers run; each returns the error history its tracker records."""

from __future__ import annotations

import os
import sys
import tempfile
import time

import torch

from experiments.peer_setup import LBFGS_ITERS, NU, ROOT, Tracker, iterations


def pinnkit_overrides(args, backend: str, whole_step: bool = False) -> list[str]:
    """The Hydra overrides of pinnkit's run (``args``: the benchmark's options); ``taylor`` compiles the jets
    (``derivative.compile``), or with ``whole_step`` the whole loss (``compile_step``)."""
    from omegaconf import OmegaConf

    overrides = [*OmegaConf.load(ROOT / "experiments" / "burgers_peers.yaml"),
                 f"optim.second_from={args.adam}", f"trainer.max_steps={args.adam + args.lbfgs}",
                 f"trainer.val_check_interval={args.adam + args.lbfgs}", f"seed={args.seed}", f"threads={args.threads}",
                 f"derivative={backend}", f"steps_per_batch={args.steps_per_batch}"]  # fmt: skip
    if backend == "taylor":
        overrides.append("compile_step=true" if whole_step else "derivative.compile=true")
    return overrides + args.pinnkit_override


def run_pinnkit(args, backend: str, whole_step: bool = False) -> dict:
    """pinnkit's run (:func:`pinnkit_overrides`)."""
    import lightning as L
    from hydra import compose, initialize_config_dir

    from pinnkit.train import CONF_DIR, train

    overrides = pinnkit_overrides(args, backend, whole_step)
    holder: dict = {}

    class Track(L.Callback):
        def on_train_start(self, trainer, module) -> None:
            holder["t"] = Tracker(lambda p: module.net(p.to(module.dtype)).double(), args.eval_every)

        def on_train_batch_end(self, trainer, module, *a) -> None:
            holder["t"].maybe(iterations(trainer.global_step, args.adam))

    with tempfile.TemporaryDirectory() as out, initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.output_dir={out}"])
        start = time.perf_counter()
        train(cfg, callbacks=[Track()])
        setup = holder["t"].start - start  # building, checks and Lightning set-up before the first step
    tracker = holder["t"]
    end = iterations(args.adam + args.lbfgs, args.adam)
    if not tracker.history or tracker.history[-1][1] != end:
        tracker.record(end)
    import pinnkit

    return {"history": tracker.history, "version": getattr(pinnkit, "__version__", "dev"), "setup_s": setup}


def run_pinnkit_recipe(args) -> dict:
    """pinnkit's Burgers recipe (``experiment=burgers``, its own points, phases and time cap) with seed ``--seed``,
    its error recorded every ``--eval-every`` optimizer steps off the clock; stopped at the first record with rel L2
    <= ``--stop-below`` (0: the recipe runs to its end)."""
    import lightning as L
    from hydra import compose, initialize_config_dir

    from pinnkit.train import CONF_DIR, train

    holder: dict = {}

    class Track(L.Callback):
        def on_train_start(self, trainer, module) -> None:
            holder["t"] = Tracker(lambda p: module.net(p.to(module.dtype)).double(), args.eval_every)

        def on_train_batch_end(self, trainer, module, *a) -> None:
            holder["t"].maybe(trainer.global_step)
            hist = holder["t"].history
            if args.stop_below and hist and hist[-1][2] <= args.stop_below:  # every level it is timed to: reached
                trainer.should_stop = True

    overrides = ["experiment=burgers", f"seed={args.seed}", f"threads={args.threads}", "logger=csv",
                 "trainer.enable_progress_bar=false", *args.pinnkit_override]  # fmt: skip
    with tempfile.TemporaryDirectory() as out, initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        summary = train(compose("train", overrides=[*overrides, f"paths.output_dir={out}"]), callbacks=[Track()])
    tracker = holder["t"]
    if tracker.history[-1][1] != summary["steps"]:
        tracker.record(summary["steps"])
    import pinnkit

    return {"history": tracker.history, "version": getattr(pinnkit, "__version__", "dev"), "overrides": overrides}


def run_bare(args, kind: str) -> dict:
    """A library-free loop (``experiments/bare_burgers.py``; ``kind``: ``autograd`` or ``taylor``, compiled whole)
    on the points and initial weights of pinnkit's run with this seed: fused Adam, ``--adam`` steps, no L-BFGS."""
    import lightning as L
    from hydra import compose, initialize_config_dir

    sys.path.insert(0, str(ROOT))
    from experiments.bare_burgers import autograd_loss, mlp_like, taylor_loss
    from pinnkit.build import build
    from pinnkit.train import CONF_DIR

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as out, initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*pinnkit_overrides(args, "autograd"), f"paths.output_dir={out}"])
    L.seed_everything(cfg.seed, verbose=False)  # as pinnkit's run seeds before building
    module = build(cfg)
    batch = module.sample(0)  # the interior points end with the initial then the boundary points (batch.tails)
    x, n_ic, n_bc = batch.points["pde"], batch.points["ic"].shape[0], batch.points["bc"].shape[0]
    if [batch.tails[t][1].stop - batch.tails[t][1].start for t in ("ic", "bc")] != [n_ic, n_bc]:
        raise RuntimeError(f"pinnkit's edge layout is not interior, then ic, then bc: {batch.tails}")
    net = mlp_like(list(module.net.linears))
    loss = {"autograd": autograd_loss, "taylor": torch.compile(taylor_loss, dynamic=False)}[kind]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    tracker = Tracker(lambda p: net(p.float()).double(), args.eval_every)
    tracker.start = time.perf_counter()
    for step in range(1, args.adam + 1):
        value = loss(net, x, n_ic, n_bc, NU)
        opt.zero_grad()
        value.backward()
        opt.step()
        tracker.maybe(step)
    if not tracker.history or tracker.history[-1][1] != args.adam:
        tracker.record(args.adam)
    return {"history": tracker.history, "version": f"torch {torch.__version__.split('+')[0]}"}


def run_deepxde(args) -> dict:
    os.environ["DDE_BACKEND"] = "pytorch"
    import deepxde as dde
    import numpy as np

    dde.config.set_random_seed(args.seed)
    torch.set_num_threads(args.threads)

    def pde(x, y):
        dy_x = dde.grad.jacobian(y, x, i=0, j=0)
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        dy_xx = dde.grad.hessian(y, x, i=0, j=0)
        return dy_t + y * dy_x - NU * dy_xx

    geomtime = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geomtime, lambda x: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geomtime, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(geomtime, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160)
    model = dde.Model(data, dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal"))
    model.compile("adam", lr=1e-3)
    swap = lambda p: p[:, [1, 0]].numpy()  # noqa: E731  (DeepXDE's inputs are (x, t))
    tracker = Tracker(lambda p: model.predict(swap(p)), args.eval_every)

    class Track(dde.callbacks.Callback):
        def on_epoch_end(self) -> None:
            tracker.maybe(self.model.train_state.epoch)
            if args.budget and tracker.elapsed() >= args.budget:  # --budget: its training time is up
                self.model.stop_training = True

    tracker.start = time.perf_counter()
    model.train(iterations=args.adam, callbacks=[Track()], display_every=1000, verbose=0)
    if args.lbfgs and not model.stop_training:
        dde.optimizers.config.set_LBFGS_options(maxiter=args.lbfgs * LBFGS_ITERS)
        opts = dde.optimizers.config.LBFGS_options  # DeepXDE 1.15 sets iter_per_step only at import (1000)
        opts["iter_per_step"] = min(100 if args.budget else 1000, opts["maxiter"])  # --budget: checked often
        model.compile("L-BFGS")
        model.train(callbacks=[Track()], display_every=1000, verbose=0)
    tracker.record(model.train_state.epoch)
    return {
        "history": tracker.history,
        "version": dde.__version__,
        "lbfgs_iterations": model.train_state.epoch - args.adam,
    }


def run_pina(args) -> dict:
    import warnings

    import lightning as L

    warnings.filterwarnings("ignore")
    from importlib.metadata import version

    from pina import LabelTensor, Trainer
    from pina.model import FeedForward
    from pina.optim import TorchOptimizer
    from pina.problem.zoo import BurgersProblem
    from pina.solver import PINN

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    problem = BurgersProblem(nu=NU)
    for domain, n in (("D", 2540), ("boundary", 80), ("t0", 160)):
        problem.discretise_domain(n=n, mode="random", domains=domain)
    model = FeedForward(input_dimensions=2, output_dimensions=1, inner_size=20, n_layers=3, func=torch.nn.Tanh)
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_normal_(m.weight)
            torch.nn.init.zeros_(m.bias)
    solver = PINN(problem=problem, model=model, optimizer=TorchOptimizer(torch.optim.Adam, lr=1e-3))
    tracker = Tracker(lambda p: solver(LabelTensor(p[:, [1, 0]].float(), ["x", "t"])).tensor, args.eval_every)

    class Track(L.Callback):
        def on_train_batch_end(self, trainer, module, *a) -> None:
            tracker.maybe(trainer.global_step)

    trainer = Trainer(solver=solver, max_epochs=args.adam, accelerator="cpu", batch_size=None, train_size=1.0,
                      val_size=0.0, test_size=0.0, callbacks=[Track()], enable_progress_bar=False, logger=False,
                      enable_model_summary=False, enable_checkpointing=False)  # fmt: skip
    tracker.start = time.perf_counter()
    trainer.train()
    if tracker.history[-1][1] != trainer.global_step:
        tracker.record(trainer.global_step)
    return {"history": tracker.history, "version": version("pina-mathlab")}


# ---- driver ------------------------------------------------------------------------------------------------------
