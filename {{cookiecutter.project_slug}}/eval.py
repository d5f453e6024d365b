"""Test a checkpoint: python eval.py ckpt_path=logs/runs/<run>/checkpoints/last.ckpt"""

from {{ cookiecutter.package_name }}.cli import eval_main

if __name__ == "__main__":
    eval_main()
