"""Train a PINN: ``python train.py pde=heat derivative=autograd`` (see pinnkit/conf/train.yaml)."""

from pinnkit.train import main

if __name__ == "__main__":
    main()
