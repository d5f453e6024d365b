"""Train a model: python train.py model=mlp trainer=gpu  (any Hydra override; see --help).

The entry point is a @hydra.main function (cli/__init__.py); Hydra's shell completion for `python
train.py` looks for that name in this file.
"""

from {{ cookiecutter.package_name }}.cli import train_main

if __name__ == "__main__":
    train_main()
