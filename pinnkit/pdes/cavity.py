"""The lid-driven cavity: steady incompressible Navier-Stokes in the unit square, the lid ``y = 1`` moving at
``u = 1``, the other walls at rest; fields ``(u, v, p)``:

    (u·∇)u + ∇p - Δu/Re = 0,   u_x + v_y = 0,   u = (1, 0) on the lid,   u = 0 on the walls.

No closed form: validation scores the held-out residuals (``val/loss``, the objective) and, at Re = 100, the
centreline velocities against Ghia, Ghia & Shin's tables (:mod:`pinnkit.references.ghia`), logged as
``val/ghia_u_rel`` (u on ``x = 0.5``) and ``val/ghia_v_rel`` (v on ``y = 0.5``). The square is a
:class:`~pinnkit.shapes.Rectangle` with named faces: the term ``lid`` samples ``boundary:lid``, ``wall`` the three
pieces ``wall.*``, each with its own point count (``data.points.lid``, ``data.points.wall``). The pressure enters
through its gradient only; its level is free (compare it up to a constant).

The lid's velocity jumps from 1 to 0 at the two top corners, where no smooth field meets both the lid and the wall
terms. ``lid_taper=True`` weights the squared residual of the lid's ``u = 1`` by ``1 - |2x - 1|`` (1 at the
centre, 0 at the corners), so those two points stop pulling against each other; the problem stays Ghia's (``u = 1``
on the whole lid, no smoothed lid profile), only the loss near the corners weighs less. ``v = 0`` on the lid, which
is continuous, keeps its full weight: tapered too, it let mass leak through the lid near the corners (a run showed
a net flux of ~0.004 through the vertical centreline, u too large by that much all along it). Off by default: with
the taper the recipe's v stayed ~2% off Ghia's, without it 1.75%.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..derivatives import Derivatives
from ..geometry import GeometryDomain
from ..references.ghia import U_VERTICAL, V_HORIZONTAL
from ..shapes import Rectangle
from .base import PDE, Table, Term

NEEDS = ("u", "v", "u_x", "u_y", "v_x", "v_y", "p_x", "p_y", "u_xx+u_yy", "v_xx+v_yy")
FACES = {"y_upper": "lid", "y_lower": "wall.bottom", "x_lower": "wall.left", "x_upper": "wall.right"}


class Cavity(PDE):
    name = "cavity"
    axes = ("x", "y")
    fields = ("u", "v", "p")

    def __init__(self, re: float = 100.0, n: int = 129, lid_taper: bool = False) -> None:
        if not re > 0:
            raise ValueError(f"cavity: the Reynolds number must be > 0, got {re}")
        square = Rectangle([0.0, 0.0], [1.0, 1.0], axes=self.axes, faces=FACES)
        super().__init__(GeometryDomain(square, self.axes), {"x": n, "y": n})
        self.re, self.lid_taper = float(re), bool(lid_taper)

    def terms(self) -> list[Term]:
        return [
            Term("pde", "interior", NEEDS, self.residual),
            Term("lid", "boundary:lid", ("u", "v"), self.lid),
            Term("wall", "boundary:wall", ("u", "v"), lambda d, x: torch.stack([d["u"], d["v"]], -1)),
        ]

    def lid(self, d: Derivatives, x: Tensor) -> Tensor:
        """``(..., 2)``: ``(u - 1, v)`` on the lid, ``u - 1`` times ``sqrt(1 - |2x - 1|)`` with ``lid_taper``."""
        slip = d["u"] - 1
        if self.lid_taper:
            slip = slip * torch.sqrt((1 - (2 * self.col(x, "x") - 1).abs()).clamp_min(0))
        return torch.stack([slip, d["v"]], -1)

    def residual(self, d: Derivatives, x: Tensor) -> Tensor:
        """``(..., 3)``: x-momentum, y-momentum, continuity."""
        u, v = d["u"], d["v"]
        mx = u * d["u_x"] + v * d["u_y"] + d["p_x"] - d["u_xx+u_yy"] / self.re
        my = u * d["v_x"] + v * d["v_y"] + d["p_y"] - d["v_xx+v_yy"] / self.re
        return torch.stack([mx, my, d["u_x"] + d["v_y"]], -1)

    def tables(self) -> dict[str, Table]:
        """Ghia et al.'s centreline velocities where they tabulate this Reynolds number (else none)."""
        re = int(self.re) if self.re == int(self.re) else None
        if re not in U_VERTICAL:
            return {}
        u = torch.tensor(U_VERTICAL[re], dtype=torch.float64)
        v = torch.tensor(V_HORIZONTAL[re], dtype=torch.float64)
        half_u, half_v = torch.full_like(u[:, :1], 0.5), torch.full_like(v[:, :1], 0.5)
        return {
            "ghia_u": Table(torch.cat([half_u, u[:, :1]], 1), "u", u[:, 1]),
            "ghia_v": Table(torch.cat([v[:, :1], half_v], 1), "v", v[:, 1]),
        }
