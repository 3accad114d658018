"""The derivative benchmark's cases (:mod:`experiments.bench_derivatives`): the backends and compile modes it
times, a case (a PDE-like residual at ``n`` points of a ``depth × width`` net, input dim ``d``, output dim ``m``)
and the preset case lists, and each case as a pinnkit PDE so the library's own loss path is timed."""

from __future__ import annotations

from dataclasses import dataclass

BACKENDS = (
    "plain",
    "autograd",
    "batched_grad",
    "functional",
    "func",
    "func_fwd",
    "taylor",
    "taylor+compile",
    "taylor+cudagraph",
    "taylor+autotune",
    "taylor+step",
    "taylor+stepgraph",
)
CUDA_ONLY = ("taylor+cudagraph", "taylor+stepgraph")
# compile modes left out of the default run (not backends; autotuning alone pushed the default CPU run past 10 min)
NOT_DEFAULT = ("taylor+autotune",)
# "taylor+cudagraph": compiled with mode="reduce-overhead" (CUDA graphs); on CPU it is the same as taylor+compile.
# "taylor+autotune": compiled with mode="max-autotune-no-cudagraphs" (inductor tries GEMM templates and tilings).
# "taylor+step": the whole loss (jets, residual, mean square) compiled as one graph, as compile_step=true trains.
# "taylor+stepgraph": taylor+step with mode="reduce-overhead": the whole loss and its backward as CUDA graphs.
COMPILED = {
    "compile": {"compile": True},
    "cudagraph": {"compile": True, "compile_mode": "reduce-overhead"},
    "autotune": {"compile": True, "compile_mode": "max-autotune-no-cudagraphs"},
}


@dataclass(frozen=True)
class Case:
    name: str
    d: int
    m: int
    n: int
    width: int
    depth: int

    @property
    def axes(self) -> tuple[str, ...]:
        return ("t", "x") if self.name == "heat" else tuple(f"x{i}" for i in range(self.d))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f"u{i}" for i in range(self.m)) if self.m > 1 else ("u",)

    @property
    def needs(self) -> tuple[str, ...] | None:
        from pinnkit.derivatives.names import combination, laplacian  # (torch: imported after --threads is set)

        if self.name == "heat":  # u_t - 0.1 u_xx, asked for as the Heat PDE asks: one combination
            return (combination("u", {"t": 1.0, "xx": -0.1}),)
        if self.name == "laplace":
            return (laplacian("u", self.axes),)
        return None  # "full": the full jac and hess of every field

    def residual(self, out):
        if self.name == "heat":
            return out[self.needs[0]]
        if self.name == "laplace":
            return out[self.needs[0]] + out.u[..., 0]
        return out.hess.diagonal(dim1=-2, dim2=-1).sum(-1) + out.jac.sum(-1)  # (N, m)

    @property
    def label(self) -> str:
        return f"{self.name} d={self.d} m={self.m} n={self.n} {self.depth}x{self.width}"


PRESETS = {
    "cpu": [
        Case("heat", 2, 1, 4096, 64, 4),
        Case("laplace", 2, 1, 4096, 64, 4),
        Case("laplace", 10, 1, 4096, 64, 4),
        Case("heat", 2, 1, 1024, 64, 4),
        Case("heat", 2, 1, 4096, 128, 6),
        Case("full", 3, 3, 1024, 64, 4),
    ],
    "gpu": [
        Case("heat", 2, 1, 65536, 128, 4),
        Case("laplace", 2, 1, 65536, 128, 4),
        Case("laplace", 10, 1, 65536, 128, 4),
        Case("heat", 2, 1, 16384, 128, 4),
        Case("heat", 2, 1, 262144, 128, 4),
        Case("heat", 2, 1, 65536, 256, 6),
        Case("full", 3, 3, 16384, 128, 4),
    ],
}
PRESETS["gpu-core"] = PRESETS["gpu"][:3]  # the three bars (heat, Laplacian d=2 and d=10) alone
PRESETS["cpu-core"] = PRESETS["cpu"][:3]
PRESETS["smoke"] = [Case("heat", 2, 1, 64, 8, 2), Case("laplace", 3, 1, 64, 8, 2), Case("full", 3, 3, 32, 8, 2)]


def case_pde(case: Case):
    """The case as a pinnkit PDE with one interior term (its needs, its residual): the library's loss path."""
    from pinnkit.domain import Box
    from pinnkit.pdes import PDE, Term

    needs = case.needs or ("jac", "hess")
    terms = lambda self: [Term("pde", "interior", needs, lambda d, x: case.residual(d))]  # noqa: E731
    cls = type("BenchPDE", (PDE,), {"name": f"bench_{case.name}", "axes": case.axes, "fields": case.fields,
                                    "terms": terms})  # fmt: skip
    return cls(Box({a: (0.0, 1.0) for a in case.axes}, time=None), {a: 2 for a in case.axes})
