"""Train a model: python train.py model=linear trainer=cpu  (any Hydra override; see --help)."""

from {{ cookiecutter.package_name }}.cli import main

if __name__ == "__main__":
    main()
