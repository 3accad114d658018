"""The peers' side of the peer benchmark: the same Burgers run in DeepXDE and in PINA (each in the worker
subprocess :mod:`experiments.bench_peers` starts), reporting the error history its tracker records."""

from __future__ import annotations

import os
import time

import torch

from experiments.bench_peers import LBFGS_ITERS, NU, Tracker


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

    tracker.start = time.perf_counter()
    model.train(iterations=args.adam, callbacks=[Track()], display_every=1000, verbose=0)
    if args.lbfgs:
        dde.optimizers.config.set_LBFGS_options(maxiter=args.lbfgs * LBFGS_ITERS)
        opts = dde.optimizers.config.LBFGS_options  # DeepXDE 1.15 sets iter_per_step only at import (1000)
        opts["iter_per_step"] = min(1000, opts["maxiter"])
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
