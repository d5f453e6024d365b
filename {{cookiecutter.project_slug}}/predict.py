"""Predict new inputs or a split: python predict.py ckpt_path=last input=new.csv"""

from {{ cookiecutter.package_name }}.cli import predict_main

if __name__ == "__main__":
    predict_main()
