"""Predict new inputs or a split: python predict.py ckpt_path=last input=new.csv

The entry point is a @hydra.main function (cli/__init__.py); Hydra's shell completion for `python
predict.py` looks for that name in this file.
"""

from {{ cookiecutter.package_name }}.cli import predict_main

if __name__ == "__main__":
    predict_main()
