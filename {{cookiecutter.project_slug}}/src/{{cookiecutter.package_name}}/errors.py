"""Expected failures, and the one boundary that prints each as a single `Error: ...` line.

Bad input is not a bug: a misspelt key, a file that is not there, a GPU the machine lacks, a
checkpoint of another model, a run that diverged. Each gets one line saying what was wrong and
how to fix it, and exit status 1. Anything else keeps its traceback; so does everything when
HYDRA_FULL_ERROR=1 is set.
"""

import errno
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn

from hydra.errors import (
    ConfigCompositionException,
    InstantiationException,
    MissingConfigException,
    OverrideParseException,
)
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # a full disk, a quota, a file size limit
WRITE_ERRORS = (*NO_SPACE, errno.EACCES, errno.EROFS, errno.ENOTDIR, errno.EEXIST)
KEY_NOTE = "full_key: "  # how Hydra names the config node whose `_target_` raised


class ProjectError(Exception):
    """A failure the user can act on; its message says what was wrong and how to fix it."""


class ConfigError(ProjectError, ValueError):
    """A setting that cannot work: out of range, unknown, or not possible on this machine."""


class DataError(ProjectError, ValueError):
    """Input data that is missing, unreadable or not what the config says."""


class TrainingDiverged(ProjectError, ArithmeticError):
    """The loss became NaN or infinite; usually fixed by a smaller learning rate."""


def describe(error: BaseException) -> str | None:
    """The one line that reports `error`, or None when it is a bug (it keeps its traceback)."""
    if isinstance(error, ProjectError):
        if str(error).startswith("Caught ") and "DataLoader worker" in str(error):
            # raised in a loader's worker: torch puts the worker's traceback before the message
            return str(error).rstrip().splitlines()[-1].partition(": ")[2]
        return str(error)
    if isinstance(error, OverrideParseException):
        reason = error.message.splitlines()[2] if error.message.count("\n") > 2 else error.message
        return (
            f"cannot read the override {error.override!r} ({reason}); write key=value,"
            " group=option or +key=value"
        )
    if isinstance(error, MissingConfigException) and error.options:
        group, _, option = str(error.missing_cfg_file).rpartition("/")
        return f"{group}={option} is not an option; use one of: {', '.join(error.options)}"
    if isinstance(error, ConfigCompositionException):  # often an OmegaConf error while composing
        error = error.__cause__ if isinstance(error.__cause__, OmegaConfBaseException) else error
    if isinstance(error, OmegaConfBaseException):  # `key: reason`, or an unknown key's hint
        key = getattr(error, "full_key", None) or ""
        reason = _first_line(error)
        if isinstance(error, ConfigKeyError | ConfigAttributeError) and key:
            hint = reason.partition(". ")[2]  # "Did you mean: 'lr'?"
            return f"{key} is not a known key" + (f"; {hint[0].lower()}{hint[1:]}" if hint else "")
        return f"{key}: {reason}" if key and not reason.startswith(key) else reason
    # InstantiationException: Hydra could not even call the `_target_`
    if isinstance(error, ConfigCompositionException | InstantiationException):
        return _first_line(error)
    if key := _config_key(error):  # raised by a `_target_` while Hydra built it from the config
        return (
            f"{key}: {type(error).__name__}: {_first_line(error)} (HYDRA_FULL_ERROR=1 shows where)"
        )
    if type(error).__name__ == "MisconfigurationException":  # Lightning's own setting checks
        return _first_line(error)
    if isinstance(error, RuntimeError) and "Error(s) in loading state_dict" in str(error):
        return (
            "the checkpoint's weights do not fit the configured model"
            f" ({_first_mismatch(str(error))}); use the model and data it was trained with"
        )
    if isinstance(error, OSError) and error.errno in WRITE_ERRORS:
        where = error.filename or "a file"
        if error.errno in NO_SPACE:  # files are written whole or not at all (runs.atomic_open)
            return (
                f"cannot write {where}: {error.strerror}; the files written before are intact."
                " Free space (or set paths.log_dir to another disk), then resume with"
                " ckpt_path=last"
            )
        return f"cannot write {where}: {error.strerror}; choose another folder"
    return None


def _config_key(error: BaseException) -> str | None:
    """The config key noted on an exception raised while that node was built (build.py)."""
    notes = getattr(error, "__notes__", [])
    return next((n.removeprefix(KEY_NOTE) for n in notes if n.startswith(KEY_NOTE)), None)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _first_mismatch(message: str) -> str:
    lines = [line.strip() for line in message.splitlines()[1:] if line.strip()]
    return lines[0].rstrip(".") if lines else "different layers"


# Set for the processes a run starts (DDP workers), so they report errors the same way.
_TRACEBACKS = "PROJECT_FULL_TRACEBACKS"


def wants_traceback() -> bool:
    return os.environ.get(_TRACEBACKS, os.environ.get("HYDRA_FULL_ERROR", "0")) == "1"


def exit_with(message: str) -> NoReturn:
    print(f"Error: {message}", file=sys.stderr)
    raise SystemExit(1) from None


def reported(main: Callable[[], Any]) -> Callable[[], Any]:
    """Runs a Hydra entry point and turns an expected failure into `Error: ...` and exit 1."""

    @wraps(main)
    def run() -> Any:
        os.environ[_TRACEBACKS] = "1" if wants_traceback() else "0"
        os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing; this reports
        try:
            return main()
        except Exception as error:
            message = describe(error)
            if message is None or wants_traceback():
                raise
            exit_with(message)
        except (KeyboardInterrupt, SystemExit) as stop:
            # Ctrl-C: Python's KeyboardInterrupt, or the exit(1) Lightning makes after it (a
            # run in training has said how to resume and exits 130 itself).
            ctrl_c = isinstance(stop, KeyboardInterrupt) or (
                stop.code == 1 and isinstance(stop.__context__, KeyboardInterrupt)
            )
            if not ctrl_c or wants_traceback():
                raise
            print("Interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return run


def log_to_file(message: str, error: BaseException) -> None:
    """Writes the error and its traceback to the job's log file (not the console)."""
    exc_info = (type(error), error, error.__traceback__)
    record = logging.getLogger(__name__).makeRecord(
        __name__, logging.ERROR, __file__, 0, "Stopped: %s", (message,), exc_info
    )
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
