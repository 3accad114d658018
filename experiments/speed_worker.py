"""One side of :mod:`experiments.tree_speed`: a training run of the pinnkit found first on ``PYTHONPATH`` (the tree
under test), paused every ``--chunk`` optimizer steps until the parent says ``go`` on stdin, so that two trees'
runs take turns on the machine chunk by chunk and share its noise.

    PYTHONPATH=TREE python experiments/speed_worker.py --tree TREE --chunk 100 -- OVERRIDES...

Speaks on stdout in lines starting with ``@@``: ``@@ ready`` once built (before the first step), then
``@@ chunk SECONDS STEPS`` after each chunk (the time from ``go`` to the chunk's last step, and the optimizer steps
it took); other output is Lightning's or the run's own.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--chunk", type=int, required=True)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()

    import lightning as L
    from hydra import compose, initialize_config_dir

    import pinnkit
    from pinnkit.train import CONF_DIR, train

    if not Path(pinnkit.__file__).resolve().is_relative_to(args.tree.resolve()):
        raise RuntimeError(f"imported {pinnkit.__file__}, not the tree under test {args.tree}")

    def say(line: str) -> None:
        print(f"@@ {line}", flush=True)

    def wait_for_go() -> None:
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("the parent stopped the run")

    class Turns(L.Callback):
        """Pauses the run at every chunk boundary until the parent's ``go``."""

        def on_train_start(self, trainer, module) -> None:
            say("ready")
            wait_for_go()
            self.start, self.step = time.perf_counter(), trainer.global_step

        def on_train_batch_end(self, trainer, module, *_) -> None:
            done = trainer.global_step - self.step
            if trainer.global_step % args.chunk == 0 and done > 0:
                say(f"chunk {time.perf_counter() - self.start:.6f} {done}")
                if trainer.global_step < trainer.max_steps:
                    wait_for_go()
                self.start, self.step = time.perf_counter(), trainer.global_step

    with tempfile.TemporaryDirectory() as out, initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*args.overrides, f"paths.output_dir={out}"])
        train(cfg, callbacks=[Turns()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
