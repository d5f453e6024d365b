"""Serve a checkpoint's model over HTTP: python serve.py ckpt_path=last

The entry point is a @hydra.main function (cli/serve.py); Hydra's shell completion for `python
serve.py` looks for that name in this file.
"""

from {{ cookiecutter.package_name }}.cli.serve import serve_main

if __name__ == "__main__":
    serve_main()
