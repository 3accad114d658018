"""A PDE without a reference solution, from Python: a loaded L-shaped membrane (-Δu = 1, u = 0 on the boundary;
`pinnkit.pdes.Membrane`), scored by its held-out residual loss, its prediction written to `solution.npz`.

    python examples/no_reference.py [steps] [out_dir]
"""

from __future__ import annotations

import sys

import numpy as np

import pinnkit


def main(steps: int = 500, out: str = "outputs/examples/no_reference") -> dict:
    cfg = pinnkit.compose("pde=membrane", "derivative=taylor", "logger=csv", f"trainer.max_steps={steps}",
                          "trainer.enable_progress_bar=false", "overwrite=true", output_dir=out)  # fmt: skip
    summary = pinnkit.fit(cfg)
    sol = np.load(f"{out}/solution.npz")
    print(f"membrane: objective {summary['objective']} = {summary['val/loss']:.2e} after {summary['steps']} steps; "
          f"max deflection {np.nanmax(sol['u_pred']):.4f} (prediction in {out}/solution.npz)")  # fmt: skip
    return summary


if __name__ == "__main__":
    main(*(int(a) if i == 0 else a for i, a in enumerate(sys.argv[1:])))
