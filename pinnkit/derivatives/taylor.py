"""The ``taylor`` backend: forward Taylor-mode propagation of only the channels a request needs.

Heat (``u_t``, ``u_xx``) carries 4 channels (u, u_t, u_x, u_xx) through the network, or 3 when it asks for the
combination ``u_t - κ u_xx`` (u, u_x and one collapsed channel); a Laplacian ``u_xx+u_yy+...`` is one collapsed
channel plus the first directions. No nested reverse passes. Every
Linear is one matmul over the stacked channels; the parameter gradient is a single ordinary backward, so
the step can be compiled (``compile=True``, the ``derivative.compile`` switch).

It works on modules it has rules for: ``nn.Linear``, ``nn.Sequential``, ``nn.Identity``, the activations
``nn.Tanh``, ``nn.Sigmoid``, ``nn.SiLU``, ``nn.GELU`` (exact), ``nn.Softplus``, and any module with a
``forward_jet(jet) -> Jet`` method (every network in :mod:`pinnkit.nets`). Anything else raises
:class:`UnsupportedModule` naming the module and the backends that take any callable.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..errors import UnsupportedModule
from ..jets import ChannelSpec, Jet, propagate
from ..jets import activations as act
from ..jets.rules import generic_backends
from .backend import Backend, PointwiseFn
from .names import Request

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def spec_for(req: Request, d: int, groups: tuple[int, int] = (0, 0)) -> ChannelSpec:
    """The channels ``req`` needs: its entries (sub-derivatives included), collapsed sums, full tensors, and for
    its estimates over ``groups = (G, K)`` directions the directions as axes ``d .. d+GK-1``: a Laplacian's
    ``D²[v, v]`` summed per group into one collapsed channel (weight ``1/K``), a biharmonic's ``D⁴[v, v, v, v]``
    one plain channel per direction, a general operator's ``D^k[v^k]`` for k up to its order (one jet)."""
    wanted = [e.axes for e in req.entries if (e.field, e.axes) not in req.part_only]
    sums = []
    for s in req.sums:
        if all(len(p) <= 2 for p in s.parts):
            sums.append(s.terms)
        else:  # a sum with third- or fourth-order parts: its parts are carried on their own and added
            wanted += list(s.parts)
    if req.full_order >= 1:
        wanted += [(i,) for i in range(d)]
    if req.full_order >= 2:
        wanted += [(i, j) for i in range(d) for j in range(i, d)]
    g, k = groups
    for e in req.estimates:
        if e.order == 2 and not e.general:
            sums += [_group_sum(d, k, j) for j in range(g)]
        else:  # the sub-multisets (lower orders along each direction) come with it
            wanted += [(d + a,) * e.order for a in range(g * k)]
    return ChannelSpec.build(d, wanted, sorted(set(sums)))


def _group_sum(d: int, k: int, j: int) -> tuple:
    """Group ``j``'s collapsed channel: the mean of ``D²[v, v]`` over its ``k`` directions (axes ``d + jk ..``)."""
    return tuple(((d + a, d + a), 1.0 / k) for a in range(j * k, (j + 1) * k))


def _estimates(data: Tensor, req: Request, spec: ChannelSpec, d: int, flat: Tensor, groups: tuple[int, int]) -> dict:
    """Each estimate ``(N, G)`` from the channels of :func:`spec_for` (``flat (GK, d)``: the directions)."""
    g, k = groups
    idx, out = spec.index, {}
    for e in req.estimates:
        if e.order == 2 and not e.general:
            chans = [idx[("sum", _group_sum(d, k, j))] for j in range(g)]
            out[e.key] = e.scale * torch.stack([data[c, :, e.field] for c in chans], -1)
        else:  # chain[o-1]: D^o u[v^o] of every direction (GK, N)
            orders = range(1, e.order + 1) if e.general else (e.order,)
            chain = {o: torch.stack([data[idx[(d + a,) * o], :, e.field] for a in range(g * k)]) for o in orders}
            per = e.per_direction([chain.get(o) for o in range(1, e.order + 1)], flat)  # (GK, N)
            out[e.key] = per.T.reshape(-1, g, k).mean(-1)
    return out


def _run(f: nn.Module, x: Tensor, spec: ChannelSpec, directions: Tensor | None = None) -> Tensor:
    """``x (N, d) -> (C, N, m)``: the output jet's channels (``directions (S, d)``: the estimates' axes)."""
    return propagate(f, Jet.seed(x, spec, directions)).data


class Taylor(Backend):
    """Forward Taylor mode over the needed channels (any order up to 4); ``compile=True`` compiles it."""

    name = "taylor"
    max_order = act.MAX_ORDER
    uses_autograd = False
    compilable = True
    any_callable = False

    def __init__(self, compile: bool = False, compile_mode: str = "default") -> None:
        """``compile_mode`` is ``torch.compile``'s mode: ``default``, ``reduce-overhead`` (CUDA graphs: one launch
        replays the whole jet graph, for GPU steps bound by kernel launches; ignored on CPU),
        ``max-autotune`` or ``max-autotune-no-cudagraphs``."""
        super().__init__(compile)
        if compile_mode not in COMPILE_MODES:
            raise ValueError(f"unknown compile_mode {compile_mode!r}; valid: {list(COMPILE_MODES)}")
        self.compile_mode = compile_mode
        self._graphs = compile and compile_mode in ("reduce-overhead", "max-autotune")
        self._fns: dict[ChannelSpec, Callable[[nn.Module, Tensor], Tensor]] = {}

    def _fn(self, spec: ChannelSpec) -> Callable[[nn.Module, Tensor, Tensor | None], Tensor]:
        if torch.compiler.is_compiling():
            # traced by an outer torch.compile (compile_step): the jets are inlined into its graph. Filling the
            # cache here would be a side effect of the trace, and the changed cache would fail the trace's guards
            # at the next call: a second compilation of the whole step
            return lambda f, x, directions=None: _run(f, x, spec, directions)
        fn = self._fns.get(spec)
        if fn is None:

            def fn(f: nn.Module, x: Tensor, directions: Tensor | None = None) -> Tensor:
                return _run(f, x, spec, directions)

            if self.compile:  # one static graph per point count: training never changes it
                mode = None if self.compile_mode == "default" else self.compile_mode
                fn = torch.compile(fn, dynamic=False, mode=mode)
            self._fns[spec] = fn
        return fn

    def compute(self, f: PointwiseFn, x: Tensor, req: Request):
        return self.evaluate(f, x, req, None)

    def evaluate(self, f: PointwiseFn, x: Tensor, req: Request, directions: Tensor | None) -> tuple:
        """One jet pass for the exact channels and the estimates' directions together."""
        if not isinstance(f, nn.Module):
            raise UnsupportedModule(
                f"backend 'taylor' propagates jets through nn.Modules it has rules for; got the plain callable "
                f"{getattr(f, '__name__', type(f).__name__)!r}. Use one of {generic_backends()}"
            )
        d = x.shape[-1]
        groups = tuple(directions.shape[:2]) if req.estimates else (0, 0)
        spec = spec_for(req, d, groups)
        flat = directions.reshape(-1, d) if req.estimates else None
        data = self._fn(spec)(f, x, flat)  # (C, N, m)
        if self._graphs and not torch.is_grad_enabled():
            # CUDA graphs reuse their output memory at the next call unless a backward is pending (training); an
            # evaluation in chunks must not see its earlier chunks overwritten
            data = data.clone()
        idx = spec.index
        u = data[0]
        entries: dict = {}
        for e in req.entries:
            if e.axes in idx:
                entries[(e.field, e.axes)] = data[idx[e.axes], :, e.field]
        for s in req.sums:
            key = ("sum", s.terms)
            if key in idx:
                entries[(s.field, s.terms)] = data[idx[key], :, s.field]
        jac = hess = None
        if req.full_order >= 1:
            jac = torch.stack([data[idx[(i,)]] for i in range(d)], dim=-1)  # (N, m, d)
        if req.full_order >= 2:
            rows = [torch.stack([data[idx[(min(i, j), max(i, j))]] for j in range(d)], dim=-1) for i in range(d)]
            hess = torch.stack(rows, dim=-2)  # (N, m, d, d)
        if req.estimates:
            entries.update(_estimates(data, req, spec, d, flat, groups))
        return u, entries, jac, hess
