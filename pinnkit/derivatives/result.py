"""The result of a backend call: values, named entries and, when asked for, the full Jacobian and Hessian."""

from __future__ import annotations

from torch import Tensor

from .names import FULL_TOKENS, Request, parse_entry, parse_sum


class Derivatives:
    """Values and derivatives of a pointwise ``f`` at points ``x (..., d)``.

    ``d.u (..., m)``; ``d.jac (..., m, d)`` and ``d.hess (..., m, d, d)`` when computed; ``d["u_xx"] (...,)``
    for any computed entry (``d["u"]`` is the field's value). Asking for what was not computed raises a
    ``KeyError`` naming what was.
    """

    def __init__(
        self,
        u: Tensor,
        request: Request,
        entries: dict[tuple[int, tuple[int, ...]], Tensor],
        jac: Tensor | None = None,
        hess: Tensor | None = None,
    ) -> None:
        self.u = u
        self.request = request
        self._entries = entries
        self._jac = jac
        self._hess = hess

    @property
    def fields(self) -> tuple[str, ...]:
        return self.request.fields

    def take(self, rows: slice, lead: tuple[int, ...]) -> Derivatives:
        """Rows ``rows`` of a result at flat points ``(P, d)``, reshaped to the leading shape ``lead``: how one
        call over several terms' concatenated points is split back per term."""

        if rows.indices(self.u.shape[0]) == (0, self.u.shape[0], 1) and lead == (self.u.shape[0],):
            return self  # all of it, already flat: no view ops (each one a node in the step's graph)

        def cut(t: Tensor | None) -> Tensor | None:
            if t is None:
                return None
            t = t[rows]
            return t if t.shape[:1] == lead else t.reshape(*lead, *t.shape[1:])

        entries = {k: cut(v) for k, v in self._entries.items()}
        return Derivatives(cut(self.u), self.request, entries, cut(self._jac), cut(self._hess))

    @property
    def axes(self) -> tuple[str, ...]:
        return self.request.axes

    @property
    def jac(self) -> Tensor:
        if self._jac is None:
            raise KeyError("the full Jacobian was not computed: call with needs=None or include 'jac' in needs")
        return self._jac

    @property
    def hess(self) -> Tensor:
        if self._hess is None:
            raise KeyError("the full Hessian was not computed: call with needs=None or include 'hess' in needs")
        return self._hess

    def __getitem__(self, name: str) -> Tensor:
        if name.startswith("~"):
            e = next((e for e in self.request.estimates if e.name == name), None)
            if e is None:  # asked for exactly (a call without directions: validation, scoring): the exact sum
                return self[name[1:]]
            return self._entries[e.key].mean(-1)  # the mean of the groups' estimates
        if name in FULL_TOKENS:
            return self.jac if name == "jac" else self.hess
        if "+" in name:
            s = next((s for s in self.request.sums if s.name == name), None)  # as asked: parsed already
            s = s or parse_sum(name, self.fields, self.axes)
            if (s.field, s.terms) in self._entries:  # carried collapsed by the backend
                return self._entries[(s.field, s.terms)]
            f = self.fields[s.field]
            return s.combine(lambda a: self[f"{f}_{''.join(self.axes[i] for i in a)}"])
        e = parse_entry(name, self.fields, self.axes)
        if e.order == 0:
            return self.u[..., e.field]
        key = (e.field, e.axes)
        if key in self._entries:
            return self._entries[key]
        if e.order == 1 and self._jac is not None:
            return self._jac[..., e.field, e.axes[0]]
        if e.order == 2 and self._hess is not None:
            return self._hess[..., e.field, e.axes[0], e.axes[1]]
        raise KeyError(f"{name!r} was not computed; available: {self.available()}")

    @property
    def groups(self) -> int:
        """How many independent estimates each ``"~"`` need holds (1 without any)."""
        return next((v.shape[-1] for k, v in self._entries.items() if k[0] == "est"), 1)

    def group(self, k: int) -> Derivatives:
        """The same result with every estimated need read from its ``k``-th group of directions only: two groups
        give two independent estimates of a residual, whose product is an unbiased estimate of its square."""
        if not 0 <= k < self.groups:
            raise IndexError(f"group {k} of {self.groups}")
        entries = {key: v[..., k : k + 1] if key[0] == "est" else v for key, v in self._entries.items()}
        return Derivatives(self.u, self.request, entries, self._jac, self._hess)

    def detach(self) -> Derivatives:
        """The same values, cut from the autograd graph (for evaluation and export)."""
        cut = lambda t: None if t is None else t.detach()  # noqa: E731
        entries = {k: v.detach() for k, v in self._entries.items()}
        return Derivatives(self.u.detach(), self.request, entries, cut(self._jac), cut(self._hess))

    def available(self) -> list[str]:
        names = [f for f in self.fields]
        names += [e.name for e in self.request.entries if (e.field, e.axes) not in self.request.part_only]
        names += [s.name for s in self.request.sums]
        names += [e.name for e in self.request.estimates]
        if self._jac is not None:
            names.append("jac")
        if self._hess is not None:
            names.append("hess")
        return names

    def __repr__(self) -> str:
        return f"Derivatives(u={tuple(self.u.shape)}, available={self.available()})"
