"""The project's package: data, models, training, and the command line that runs them.

Its version is written once, in pyproject.toml; `importlib.metadata.version` reads it.
"""
