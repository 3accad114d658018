"""A network of your own through the forward-mode `taylor` backend: a residual block with sine and tanh, its
`forward_jet` written with pinnkit's jet operations next to its `forward`.

    python examples/custom_net.py            # checks taylor against autograd, then trains heat with the net

The net is used from a config like any shipped one: `model._target_` names the class, and pinnkit passes the
PDE's sizes and box (`in_dim`, `out_dim`, `lower`, `upper`, `axes`).
"""

from __future__ import annotations

import sys
import tempfile

import torch
from omegaconf import OmegaConf
from torch import nn

import pinnkit
from pinnkit.jets import Jet, propagate
from pinnkit.jets import activations as act
from pinnkit.nets import Normalize


class SineResidualNet(nn.Module):
    """``x (..., d) -> u (..., m)``: normalize the box, one sine layer, one tanh residual block, a linear head."""

    def __init__(self, in_dim: int, out_dim: int, lower, upper, axes=None, width: int = 32) -> None:
        super().__init__()
        self.norm = Normalize(lower, upper)
        self.inp, self.hidden, self.out = nn.Linear(in_dim, width), nn.Linear(width, width), nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sin(self.inp(self.norm(x)))
        h = h + torch.tanh(self.hidden(h))
        return self.out(h)

    def forward_jet(self, j: Jet) -> Jet:
        h = propagate(self.inp, propagate(self.norm, j)).map(act.sin)
        h = h + propagate(self.hidden, h).map(act.tanh)
        return propagate(self.out, h)


def main(steps: int = 300) -> dict:
    torch.manual_seed(0)
    net = SineResidualNet(2, 1, [0.0, -1.0], [1.0, 1.0]).double()
    x = torch.rand(64, 2, dtype=torch.float64)
    needs = ("u_t", "u_x", "u_xx")
    fast = pinnkit.differentiate(net, x, needs, axes=("t", "x"), backend="taylor")
    slow = pinnkit.differentiate(net, x, needs, axes=("t", "x"), backend="autograd")
    worst = max(float((fast[n] - slow[n]).abs().max()) for n in needs)
    print(f"taylor vs autograd, max difference over {needs}: {worst:.1e}")
    with tempfile.TemporaryDirectory() as out:
        cfg = pinnkit.compose("pde=heat", "derivative=taylor", "logger=csv", "optim=adam", f"trainer.max_steps={steps}",
                              "trainer.enable_progress_bar=false", output_dir=out)  # fmt: skip
        cfg.model = OmegaConf.create({"_target_": f"{SineResidualNet.__module__}.SineResidualNet", "width": 32})
        summary = pinnkit.fit(cfg)
    print(f"heat with SineResidualNet: rel L2 {summary['val/l2_rel']:.2e} after {summary['steps']} steps")
    return {"max_difference": worst, **summary}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
