"""pinnkit: physics-informed neural networks with pluggable derivative backends, on Lightning, Hydra and W&B.

The front door::

    import pinnkit
    d = pinnkit.differentiate(net, x, ("u_x", "u_xx"), axes=("x",))   # x (..., d) -> d["u_xx"] (...,)
    cfg = pinnkit.compose("pde=heat", "trainer.max_steps=200", output_dir="runs/heat")
    summary = pinnkit.fit(cfg)                                        # = python train.py pde=heat ...
    module = pinnkit.load_checkpoint("runs/heat/checkpoints/last.ckpt")
    out = pinnkit.evaluate(module, points, needs=("u", "u_x"))

The derivative and PDE names import torch only; the training entry points (Lightning, Hydra) load on first use.
Submodules keep their names: ``pinnkit.train``, ``pinnkit.predict`` (``python -m pinnkit.predict``), ...
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from .derivatives import BACKENDS, Backend, Derivatives, combination, get_backend, laplacian
from .derivatives.backend import PointwiseFn
from .domain import Box
from .geometry import Disk, Polygon, ShapeDomain
from .pdes import PDE, PDES, Term

if TYPE_CHECKING:
    from torch import Tensor

__version__ = "0.2.0"

#: front-door name -> (module, attribute), imported on first use (they pull in Lightning and Hydra)
LAZY = {
    "fit": ("pinnkit.train", "train"),
    "build_module": ("pinnkit.build", "build"),
    "PINNModule": ("pinnkit.training", "PINNModule"),
    "load_checkpoint": ("pinnkit.predict", "load"),
    "evaluate": ("pinnkit.predict", "predict"),
}


def differentiate(
    f: PointwiseFn,
    x: Tensor,
    needs: Sequence[str] | None = None,
    *,
    backend: str | Backend = "autograd",
    axes: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
) -> Derivatives:
    """Values and derivatives of a pointwise ``f: (..., d) -> (..., m)`` at ``x (..., d)``.

    ``needs``: names such as ``("u_x", "u_xx")``, ``("jac",)``, ``("hess",)`` (``None``: the full Jacobian and
    Hessian); ``backend``: a registry name (``pinnkit.BACKENDS``) or a backend object; ``axes``/``fields``: the
    names of the input and output columns (default ``x, y, z`` / ``u, v, w``, or numbered past three).
    """
    impl = get_backend(backend) if isinstance(backend, str) else backend
    return impl(f, x, needs, axes=axes, fields=fields)


def compose(*overrides: str, output_dir: str = "outputs/pinnkit") -> Any:
    """The training config of ``overrides`` (as on the command line), composed without a run; the run writes
    into ``output_dir``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from .train import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return hydra_compose("train", overrides=[f"paths.output_dir={output_dir}", *overrides])


def __getattr__(name: str) -> Any:
    if name in LAZY:
        module, attr = LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'pinnkit' has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "PDE",
    "PDES",
    "Backend",
    "Box",
    "Derivatives",
    "Disk",
    "PINNModule",
    "Polygon",
    "ShapeDomain",
    "Term",
    "__version__",
    "build_module",
    "combination",
    "compose",
    "differentiate",
    "evaluate",
    "fit",
    "get_backend",
    "laplacian",
    "load_checkpoint",
]
