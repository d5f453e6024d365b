"""Export a checkpoint's model: python export.py ckpt_path=last format=onnx

The entry point is a @hydra.main function (cli/export.py); Hydra's shell completion for `python
export.py` looks for that name in this file.
"""

from {{ cookiecutter.package_name }}.cli.export import export_main

if __name__ == "__main__":
    export_main()
