"""``python -m pinnkit [overrides]``: the same as ``pinnkit-train`` and ``python train.py``."""

from .train import cli

if __name__ == "__main__":
    cli()
