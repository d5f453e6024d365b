"""Experiment loggers that need a decision at run time: W&B's online/offline mode, MLflow's store.

The tracking packages are imported inside the functions, so a run that does not select them
never pays their import time.
"""

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError

log = logging.getLogger(__name__)

# How wandb words a verification that got no answer from the server (wandb 0.2x, 0.3x).
UNREACHABLE = ("Failed to execute API request", "An error occurred while checking")


def wandb_mode() -> str:
    """`WANDB_MODE` when set; else online with an API key or a `wandb login` that the server
    accepts, and offline without a key or when the server does not answer in time.

    The key is checked with the server once, within `WANDB_HTTP_TIMEOUT` seconds (10 unless
    set): without that, a key and no network would stall the run while wandb retries its
    connection for a minute and a half, then fail it.
    """
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    import wandb

    try:
        if not wandb.login(prompt=False, verify=True):
            return "offline"  # no key, no login
    except wandb.errors.AuthenticationError as err:
        reason = str(err).splitlines()[0]
        if not any(text in reason for text in UNREACHABLE):  # a malformed or refused key
            raise ConfigError(
                f"W&B does not accept the API key ({reason}); run `wandb login --relogin`,"
                " or unset WANDB_API_KEY to log offline"
            ) from None
        host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
        log.warning(
            "W&B: %s did not answer within %s s; logging offline instead (upload later with"
            " `wandb sync`, or set WANDB_MODE=offline to skip the wait)",
            host,
            os.environ.get("WANDB_HTTP_TIMEOUT", 10),
        )
        return "offline"
    return "online"


def sweep_group() -> str | None:
    """The multirun's folder name, so every job of one sweep lands in the same W&B group."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(HydraConfig.get().sweep.dir).name


def wandb_logger(
    save_dir: str,
    project: str,
    entity: str | None = None,
    name: str | None = None,
    group: str | None = None,
    tags: Iterable[str] = (),
    notes: str | None = None,
    log_model: bool | Literal["all"] = False,
) -> Any:
    """A Lightning `WandbLogger` that runs offline, without prompting, when no login exists."""
    from lightning.pytorch.loggers import WandbLogger

    mode = wandb_mode()
    if mode == "offline":
        log.info("W&B: logging offline into %s/wandb (no network needed)", save_dir)
    return WandbLogger(
        save_dir=save_dir,
        project=project,
        entity=entity,
        name=name,
        group=group or sweep_group(),
        tags=list(tags),
        notes=notes,
        log_model=log_model,
        mode=mode,
    )


def mlflow_logger(
    tracking_uri: str,
    experiment_name: str,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    log_model: bool | Literal["all"] = False,
) -> Any:
    """A Lightning `MLFlowLogger`; makes the folder of a `sqlite:///` store (SQLite won't)."""
    from lightning.pytorch.loggers import MLFlowLogger

    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MLFlowLogger(
        experiment_name=experiment_name,
        run_name=run_name,
        tracking_uri=tracking_uri,
        tags=dict(tags) if tags else None,
        log_model=log_model,
    )


def finish(loggers: Iterable[Any]) -> None:
    """Closes W&B runs, so each multirun job is complete before the next starts."""
    for logger in loggers:
        if type(logger).__name__ != "WandbLogger":
            continue
        from wandb.sdk.wandb_run import Run

        run = logger.experiment
        if not isinstance(run, Run):  # ranks other than 0 hold a placeholder, not a run
            continue
        sync_dir = Path(run.dir).parent if run.offline else None
        run.finish()
        if sync_dir is not None:
            print(f"W&B ran offline; upload this run later with: wandb sync {sync_dir}")
