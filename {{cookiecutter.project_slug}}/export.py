"""Export a checkpoint's model: python export.py ckpt_path=last format=onnx"""

from {{ cookiecutter.package_name }}.cli import export_main

if __name__ == "__main__":
    export_main()
