"""The project's package: data, models, training, and the command line that runs them."""

__version__ = "0.1.0"
