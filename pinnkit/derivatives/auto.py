"""The ``auto`` backend: time the eligible backends on the real net, points and device, keep the fastest.

For each request (a PDE term's ``needs``) it runs a few full steps of every candidate (values, the requested
derivatives, a squared-sum loss, the backward to the parameters), checks each candidate's values against
``autograd`` and picks the fastest that agrees. The choice is cached for the run; under DDP rank 0's choice
is broadcast so every rank runs the same backend. ``report`` holds the timings for logging.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..errors import UnsupportedRequest
from .autograd import Autograd
from .backend import Backend, PointwiseFn
from .estimates import exact_request
from .names import Request

log = logging.getLogger(__name__)


def _make(name: str, compile: bool) -> Backend:
    from .registry import BACKENDS  # the registry imports this module

    cls = BACKENDS[name]
    return cls(compile=compile) if compile else cls()


def _sync(x: Tensor) -> None:
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)


class Auto(Backend):
    """Picks, per request, the fastest of ``candidates`` that agrees with ``autograd`` (see module docstring).

    ``candidates``: backend names (``None``: every computing backend of the registry, in its order);
    ``compile=True`` adds the compiled ``taylor`` to the candidates; ``steps`` timed steps follow one warm-up.
    """

    name = "auto"
    compilable = True
    role = "chooser"

    def __init__(self, candidates: Sequence[str] | None = None, compile: bool = False, steps: int = 3) -> None:
        from .registry import candidate_names  # the registry imports this module

        super().__init__(compile)
        valid = candidate_names()
        candidates = valid if candidates is None else tuple(candidates)
        unknown = set(candidates) - set(valid)
        if unknown or not candidates:
            raise ValueError(f"auto candidates must be a non-empty subset of {list(valid)}, got {list(candidates)}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.backends = {n: _make(n, False) for n in candidates}
        if compile and "taylor" in candidates:
            self.backends["taylor+compile"] = _make("taylor", True)
        self.steps = steps
        self.reference = Autograd()
        self.chosen: dict[Request, str] = {}
        self.report: dict[str, dict[str, float | str]] = {}

    def prepare(self, f, x, needs=None, *, axes=None, fields=None) -> None:
        with torch.enable_grad():
            self(f, x, needs, axes=axes, fields=fields)  # selects on the first call

    def compute(self, f: PointwiseFn, x: Tensor, req: Request):
        return self.evaluate(f, x, req, None)

    def evaluate(self, f: PointwiseFn, x: Tensor, req: Request, directions: Tensor | None) -> tuple:
        """The chosen backend's result; a request with estimates goes to the backend chosen for its exact form
        (the same sums computed exactly), which then serves the estimates its own way."""
        exact = exact_request(req)
        name = self.chosen.get(exact)
        if name is None:
            name = self._select(f, x, exact)
        return self.backends[name].evaluate(f, x, req, directions)

    # ---- selection ------------------------------------------------------------------------------------------
    def _step(self, backend: Backend, f: PointwiseFn, x: Tensor, req: Request, params: list[Tensor]) -> list[Tensor]:
        vals = _named_values(backend.compute(f, x, req), req)
        loss = sum(v.square().sum() for v in vals)
        if params:
            torch.autograd.grad(loss, params, allow_unused=True)
        return [v.detach() for v in vals]

    def _select(self, f: PointwiseFn, x: Tensor, req: Request) -> str:
        params = [p for p in f.parameters() if p.requires_grad] if isinstance(f, nn.Module) else []
        ref = self._step(self.reference, f, x, req, [])
        tol = 1e-9 if x.dtype == torch.float64 else 1e-3
        times: dict[str, float | str] = {}
        for name, backend in self.backends.items():
            try:
                if backend.max_order is not None and req.order > backend.max_order:
                    raise UnsupportedRequest(f"order {req.order} > {backend.max_order}")
                vals = self._step(backend, f, x, req, params)  # warm-up (and compilation)
                scale = max(float(r.abs().max()) for r in ref) or 1.0
                err = max(float((v - r).abs().max()) for v, r in zip(vals, ref, strict=True)) / scale
                if not err <= tol:
                    times[name] = f"disagrees with autograd (rel. error {err:.1e})"
                    continue
                runs = []
                for _ in range(self.steps):
                    _sync(x)
                    t0 = time.perf_counter()
                    self._step(backend, f, x, req, params)
                    _sync(x)
                    runs.append(time.perf_counter() - t0)
                times[name] = statistics.median(runs) * 1e3
            except (UnsupportedRequest, RuntimeError) as err:  # not eligible for this net or request
                times[name] = f"not eligible: {str(err).splitlines()[0][:120]}"
        timed = {n: t for n, t in times.items() if isinstance(t, float)}
        best = min(timed, key=timed.get) if timed else "autograd"
        best = _broadcast(best)
        key = ",".join([*(e.name for e in req.entries), *(s.name for s in req.sums)] or [f"full{req.full_order}"])
        self.report[key] = {"choice": best, **{f"{n}_ms": t for n, t in times.items()}}
        log.info("auto backend for %s: %s (median ms: %s)", key, best, times)
        self.chosen[req] = best
        return best

    def __repr__(self) -> str:
        return f"Auto(candidates={list(self.backends)}, chosen={sorted(set(self.chosen.values()))})"


def _named_values(out: tuple, req: Request) -> list[Tensor]:
    """What a caller can read from a result, in a fixed order whatever the backend: u, named entries, sums
    (collapsed or added from their parts), full jac and hess."""
    u, entries, jac, hess = out
    vals = [u, *(entries[(e.field, e.axes)] for e in req.entries if (e.field, e.axes) not in req.part_only)]
    for s in req.sums:
        key = (s.field, s.terms)
        vals.append(entries[key] if key in entries else s.combine(lambda p, f=s.field: entries[(f, p)]))
    return vals + [t for t in (jac, hess) if t is not None]


def _broadcast(choice: str) -> str:
    """Rank 0's choice on every rank (a no-op without an initialized process group)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        obj = [choice]
        torch.distributed.broadcast_object_list(obj, src=0)
        return obj[0]
    return choice


__all__ = ["Auto"]
