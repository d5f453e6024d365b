"""Test a checkpoint: python eval.py ckpt_path=logs/runs/<run>/checkpoints/last.ckpt

The entry point is a @hydra.main function (cli/__init__.py); Hydra's shell completion for `python
eval.py` looks for that name in this file.
"""

from {{ cookiecutter.package_name }}.cli import eval_main

if __name__ == "__main__":
    eval_main()
