"""`python -m {{ cookiecutter.package_name }} [overrides]`: the same as `python train.py`."""

from .cli import train_main

if __name__ == "__main__":
    train_main()
