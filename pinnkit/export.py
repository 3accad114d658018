"""Export a trained network as a standalone model ``x (N, d) -> u (N, m)``, loadable without pinnkit.

The exported model is the run's whole network: its input normalization, periodic embedding, Fourier features and
hard-constraint ansatz are inside it, so it takes raw coordinates in the order of the PDE's axes and returns the
fields in the order of its fields (both stored beside it in ``<out>.json``). The point count ``N`` is dynamic.

Command line::

    python -m pinnkit.export CKPT --format torchscript        # CKPT.pt:  torch.jit.load(path)
    python -m pinnkit.export CKPT --format exported-program   # CKPT.pt2: torch.export.load(path).module()
    python -m pinnkit.export CKPT --format onnx               # CKPT.onnx (needs the onnx and onnxscript packages)

``--dtype float32`` casts a float64 run's network; ``--out`` names the file; ``--allow-target`` trusts your own
package's classes in the checkpoint's config (as for :mod:`pinnkit.predict`). Every file is written atomically.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .atomic import write_bytes, write_json
from .checkpoints import CheckpointError
from .predict import load
from .trusted import UntrustedTargetError

FORMATS = {"torchscript": ".pt", "exported-program": ".pt2", "onnx": ".onnx"}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class ExportError(ValueError):
    """An unknown format or dtype, or a format whose package is not installed."""


def check_format(fmt: str) -> None:
    """An :class:`ExportError` naming the valid formats unless ``fmt`` is one of :data:`FORMATS`."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")


def export_net(net: nn.Module, example: torch.Tensor, fmt: str) -> bytes:
    """The bytes of ``net`` exported in ``fmt`` (one of :data:`FORMATS`), traced at ``example (N, d)`` with ``N``
    left dynamic."""
    check_format(fmt)
    net = net.eval()
    buf = io.BytesIO()
    with torch.no_grad():
        if fmt == "torchscript":
            torch.jit.save(torch.jit.trace(net, example), buf)
        elif fmt == "exported-program":
            ep = torch.export.export(net, (example,), dynamic_shapes=({0: torch.export.Dim.AUTO},))
            torch.export.save(ep, buf)
        else:
            try:
                import onnx  # noqa: F401
                import onnxscript  # noqa: F401
            except ImportError as err:
                raise ExportError(
                    f"--format onnx needs the onnx and onnxscript packages ({err.name} is missing): "
                    "pip install onnx onnxscript, or use --format torchscript / exported-program"
                ) from err
            program = torch.onnx.export(
                net, (example,), dynamo=True, input_names=["x"], output_names=["u"],
                dynamic_shapes=({0: torch.export.Dim.AUTO},),
            )  # fmt: skip
            return program.model_proto.SerializeToString()
    return buf.getvalue()


def export(
    checkpoint: str | Path,
    fmt: str,
    out: str | Path | None = None,
    dtype: str | None = None,
    allow_targets: Sequence[str] = (),
) -> Path:
    """Export the network of ``checkpoint`` to ``out`` (default: the checkpoint's path with the format's suffix)
    and its axes, fields and dtype to ``<out>.json``; the path written."""
    if dtype is not None and dtype not in DTYPES:
        raise ExportError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    check_format(fmt)  # before the checkpoint is read
    module = load(checkpoint, allow_targets=allow_targets)
    net = module.net.to(DTYPES[dtype]) if dtype else module.net
    real = next(p.dtype for p in net.parameters())
    pde = module.pde
    gen = torch.Generator().manual_seed(0)
    example = pde.domain.sample("interior", 64, gen, real, torch.device("cpu"))
    path = Path(out) if out else Path(checkpoint).with_suffix(FORMATS[fmt])
    data = export_net(net, example, fmt)
    write_bytes(path, data)
    write_json(path.with_name(path.name + ".json"),
               {"format": fmt, "axes": list(pde.axes), "fields": list(pde.fields), "dtype": str(real).split(".")[-1],
                "pde": pde.name, "checkpoint": str(checkpoint)})  # fmt: skip
    return path


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m pinnkit.export", description="Export a checkpoint's network.")
    p.add_argument("checkpoint")
    p.add_argument("--format", required=True, choices=list(FORMATS), dest="fmt")
    p.add_argument("--out", help="output file (default: the checkpoint's path with the format's suffix)")
    p.add_argument("--dtype", choices=list(DTYPES), help="cast the network (default: the run's dtype)")
    p.add_argument("--allow-target", action="append", default=[], metavar="PACKAGE",
                   help="trust _target_s under PACKAGE in the checkpoint's config; repeatable")  # fmt: skip
    args = p.parse_args(argv)
    try:
        path = export(args.checkpoint, args.fmt, args.out, args.dtype, args.allow_target)
    except (CheckpointError, UntrustedTargetError, ExportError) as err:
        p.exit(2, f"{p.prog}: error: {err}\n")
    print(f"wrote {path} and {path.name}.json")


if __name__ == "__main__":
    main()
