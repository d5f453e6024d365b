"""Write predictions for a split: python predict.py ckpt_path=last split=test"""

from {{ cookiecutter.package_name }}.cli import predict_main

if __name__ == "__main__":
    predict_main()
