"""Train a model: python train.py model=mlp trainer=gpu  (any Hydra override; see --help)."""

from {{ cookiecutter.package_name }}.cli import train_main

if __name__ == "__main__":
    train_main()
