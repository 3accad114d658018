"""The PDEs pinnkit ships, one short file each, chosen in configs by ``pde=<name>``."""

from .advection import Advection
from .allen_cahn import AllenCahn
from .allen_cahn_hd import AllenCahnHD
from .base import PDE, Term
from .burgers import Burgers, BurgersInverse
from .cavity import Cavity
from .fokker_planck import FokkerPlanck
from .heat import Heat
from .helmholtz import Helmholtz
from .hjb import HJB
from .kdv import KdV
from .klein_gordon import KleinGordon
from .kovasznay import Kovasznay
from .kuramoto_sivashinsky import KuramotoSivashinsky
from .membrane import Membrane
from .plate import Plate
from .poisson import Poisson
from .poisson_hd import PoissonHD
from .poisson_hole import PoissonHole
from .schrodinger import Schrodinger
from .vector3d import Vector3D
from .wave import Wave

SHIPPED = (Heat, Vector3D, Wave, Helmholtz, Poisson, Advection, KleinGordon, Kovasznay, Burgers, BurgersInverse,
           AllenCahn, KdV, Schrodinger, Membrane, PoissonHole, Cavity, PoissonHD, Plate, HJB,
           FokkerPlanck, AllenCahnHD, KuramotoSivashinsky)  # fmt: skip
PDES: dict[str, type[PDE]] = {cls.name: cls for cls in SHIPPED}

__all__ = [
    "HJB",
    "PDE",
    "PDES",
    "Advection",
    "AllenCahn",
    "AllenCahnHD",
    "Burgers",
    "BurgersInverse",
    "Cavity",
    "FokkerPlanck",
    "Heat",
    "Helmholtz",
    "KdV",
    "KleinGordon",
    "Kovasznay",
    "KuramotoSivashinsky",
    "Membrane",
    "Plate",
    "Poisson",
    "PoissonHD",
    "PoissonHole",
    "Schrodinger",
    "Term",
    "Vector3D",
    "Wave",
]
