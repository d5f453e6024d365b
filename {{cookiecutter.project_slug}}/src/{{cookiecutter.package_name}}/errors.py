"""The one exception type for bad user input: the CLI prints its message, without a traceback."""


class ConfigError(ValueError):
    """A setting or input the user can fix; the message says what was wrong and how to fix it."""
