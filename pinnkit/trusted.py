"""Rebuilding a run from a stored config without running code the file chose.

:func:`pinnkit.predict.load` rebuilds the PDE, network, backend and optimizers from the config inside a
checkpoint. ``instantiate`` would call any importable ``_target_`` (``builtins.open``, ``os.system``...), so
every ``_target_`` in the stored config is checked *before anything is imported*: it must lie in its group's
own package and be a class of the group's kind, or lie under a prefix the caller trusts (``allow``: a user
project's package). The allow-list comes from the caller, never from the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

#: group -> (the packages its targets may come from, the dotted base class they must subclass)
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pde": (("pinnkit.pdes",), ("pinnkit.pdes.base.PDE",)),
    "model": (("pinnkit.nets",), ("torch.nn.Module",)),
    "derivative": (("pinnkit.derivatives",), ("pinnkit.derivatives.backend.Backend",)),
    "optim": (
        ("torch.optim", "pinnkit.optim", "pytorch_optimizer"),
        ("torch.optim.Optimizer", "torch.optim.lr_scheduler.LRScheduler"),
    ),
}


class UntrustedTargetError(ValueError):
    """A stored config asks to build something outside the allow-list."""


def under(target: str, prefix: str) -> bool:
    """Whether dotted ``target`` is ``prefix`` or lies inside it (``mypkg`` covers ``mypkg.nets.Net``)."""
    prefix = prefix.rstrip(".")
    return target == prefix or target.startswith(prefix + ".")


def targets(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every ``(key path, _target_ value)`` in a nested config, and every interpolation string as ``(path, None)``."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            sub = f"{path}.{k}" if path else str(k)
            if k == "_target_":
                yield sub, v
            else:
                yield from targets(v, sub)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from targets(v, f"{path}[{i}]")
    elif isinstance(node, str) and "${" in node:
        yield path, None


def check_targets(config: Mapping[str, Any], allow: Sequence[str] = (), source: str = "the checkpoint") -> None:
    """Raise :class:`UntrustedTargetError` unless every ``_target_`` in ``config`` is allowed (module doc)."""
    how = "pass allow_targets=['<package>'] to load(), or --allow-target <package> to python -m pinnkit.predict"
    for key, target in targets(config, ""):
        if target is None:
            raise UntrustedTargetError(
                f"{source}'s config holds an interpolation at {key}; pinnkit stores resolved configs, so it was "
                "not written by pinnkit and is not rebuilt"
            )
        group = key.split(".")[0]
        if not isinstance(target, str):
            raise UntrustedTargetError(f"{source}'s config has a non-string {key}={target!r}")
        if any(under(target, p) for p in allow):
            continue
        packages, bases = GROUPS.get(group, ((), ()))
        if not any(under(target, p) for p in packages):
            valid = ", ".join(f"{g}: {'/'.join(p)}" for g, (p, _) in GROUPS.items())
            raise UntrustedTargetError(
                f"{source} asks to build {key}={target!r}, which is not on the allow-list ({valid}); nothing was "
                f"imported or run. If you trust this checkpoint and wrote that code, {how}"
            )
        _check_kind(key, target, bases, source, how)


def _check_kind(key: str, target: str, bases: tuple[str, ...], source: str, how: str) -> None:
    """Inside a trusted package the target must still be a class of the group's kind (not a function that
    writes files, say)."""
    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception as err:
        raise UntrustedTargetError(f"{source} names {key}={target!r}, which does not exist: {err}") from None
    kinds = tuple(get_object(b) for b in bases)
    if not (isinstance(obj, type) and issubclass(obj, kinds)):
        raise UntrustedTargetError(
            f"{source} asks to build {key}={target!r}, which is not a {' or '.join(bases)} subclass; refused. If "
            f"you trust it, {how}"
        )
