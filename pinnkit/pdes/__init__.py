"""The PDEs pinnkit ships, one short file each, chosen in configs by ``pde=<name>``."""

from .base import PDE, Term
from .heat import Heat
from .vector3d import Vector3D

PDES: dict[str, type[PDE]] = {cls.name: cls for cls in (Heat, Vector3D)}

__all__ = ["PDE", "PDES", "Heat", "Term", "Vector3D"]
