"""The W&B and MLflow loggers of conf/logger/: Lightning's own, with the decisions made at run
time (W&B's online/offline mode, MLflow's local store) and the run's name and tags set.

Each takes every argument of the Lightning logger it extends (W&B's also those of
`wandb.init`), so `+logger.wandb.id=abc +logger.wandb.resume=allow` reaches W&B as it is.
Lightning imports the tracking packages only when a logger starts, so a run that does not
select them never pays their import time.
"""

import csv
import io
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch import loggers
from lightning.pytorch.callbacks import ModelCheckpoint

from .errors import ConfigError

log = logging.getLogger(__name__)

# How wandb words a verification that got no answer from the server (wandb 0.2x, 0.3x).
UNREACHABLE = ("Failed to execute API request", "An error occurred while checking")
# Tracking URIs of a server, which keeps the artifacts where it is configured to.
SERVER_SCHEMES = ("http://", "https://", "databricks")


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


def overrides_name() -> str | None:
    """The run's overrides as its name in the trackers (`model=mlp,seed=2`: Hydra's
    hydra.job.override_dirname), else the name of its folder (its start time)."""
    if not HydraConfig.initialized():
        return None
    job = HydraConfig.get()
    return job.job.override_dirname or Path(job.runtime.output_dir).name


def sweep_group() -> str | None:
    """The multirun's folder name, so every job of one sweep lands in the same W&B group."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(HydraConfig.get().sweep.dir).name


class CSVLogger(loggers.CSVLogger):
    """Lightning's `CSVLogger`, keeping the rows of a run that continues in its own folder.

    A requeued job (or `ckpt_path=last` with the same `hydra.run.dir`) opens the folder again;
    Lightning's logger would then delete metrics.csv and keep only the epochs trained after
    the restart. Here the new rows are added after the old ones, under the same header.
    """

    @property
    def experiment(self) -> Any:
        if self._experiment is None:
            path = Path(self.log_dir) / "metrics.csv"
            kept = path.read_text() if path.is_file() else ""
            writer = super().experiment  # deletes the file it finds, on rank 0
            if kept and self._experiment is not None:  # other ranks get a placeholder
                path.write_text(kept)
                writer.metrics_keys = next(csv.reader(io.StringIO(kept)))
        return super().experiment


class WandbLogger(loggers.WandbLogger):
    """Lightning's `WandbLogger`, offline without prompting when no login exists, named after
    the run's overrides and grouped by sweep unless `name` and `group` say otherwise."""

    def __init__(
        self,
        name: str | None = None,
        group: str | None = None,
        tags: Iterable[str] = (),
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        mode = mode or wandb_mode()
        if mode == "offline":
            where = kwargs.get("save_dir", ".")
            log.info("W&B: logging offline into %s/wandb (no network needed)", where)
        super().__init__(
            name=name or overrides_name(),
            group=group or sweep_group(),
            tags=list(tags),
            mode=mode,
            **kwargs,
        )


class MLFlowLogger(loggers.MLFlowLogger):
    """Lightning's `MLFlowLogger`, with the run named after its overrides, each of `tags`
    (labels such as `baseline`) an MLflow tag, and a new experiment's artifacts kept in
    `artifact_location` (under logs/) unless a tracking server keeps them.

    Makes the folder of a `sqlite:///` store, which SQLite does not. With `log_model=true` it
    logs the checkpoints of every `ModelCheckpoint` at the end (the best and last.ckpt), as
    Lightning's `WandbLogger` does; Lightning's `MLFlowLogger` logs those of the last one that
    saved.
    """

    def __init__(
        self,
        tracking_uri: str,
        run_name: str | None = None,
        tags: Iterable[str] | Mapping[str, Any] = (),
        artifact_location: str | None = None,
        **kwargs: Any,
    ) -> None:
        if tracking_uri.startswith("sqlite:///"):
            Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if artifact_location and not tracking_uri.startswith(SERVER_SCHEMES):
            artifact_location = Path(artifact_location).resolve().as_uri()
        else:
            artifact_location = None
        labels = dict(tags) if isinstance(tags, Mapping) else dict.fromkeys(tags, "true")
        super().__init__(
            tracking_uri=tracking_uri,
            run_name=run_name or overrides_name(),
            tags=labels or None,
            artifact_location=artifact_location,
            **kwargs,
        )
        self._saving_callbacks: dict[int, ModelCheckpoint] = {}

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        super().after_save_checkpoint(checkpoint_callback)
        if self._checkpoint_callback is checkpoint_callback:  # kept for the end
            self._saving_callbacks[id(checkpoint_callback)] = checkpoint_callback

    def finalize(self, status: str = "success") -> None:
        if self._initialized:
            for callback in self._saving_callbacks.values():
                if callback is not self._checkpoint_callback:  # that one, Lightning's logs
                    self._scan_and_log_checkpoints(callback)
        super().finalize(status)


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
