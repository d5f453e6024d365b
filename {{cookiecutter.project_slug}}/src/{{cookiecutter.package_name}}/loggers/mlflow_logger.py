"""MLflow: Lightning's `MLFlowLogger`, with a local SQLite store unless a server is given."""

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch import loggers
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only

from . import overrides_name

log = logging.getLogger(__name__)

# Tracking URIs of a server, which keeps the artifacts where it is configured to.
SERVER_SCHEMES = ("http://", "https://", "databricks")
# The experiment tag by which MLflow 3's UI opens an experiment on its training runs (without
# it, on its GenAI traces: "No data available").
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


class MLFlowLogger(loggers.MLFlowLogger):
    """Lightning's `MLFlowLogger`, with the run named after its overrides, each of `tags`
    (labels such as `baseline`) an MLflow tag, and a new experiment's artifacts kept in
    `artifact_location` (under logs/) unless a tracking server keeps them.

    Makes the folder of a `sqlite:///` store, which SQLite does not. With `log_model=true` it
    logs the best and the last checkpoint of every `ModelCheckpoint` at the end, each under its
    own name (Lightning's `MLFlowLogger` logs those of the last one that saved). A run resumed
    from a checkpoint (`run_id`, which the checkpoint keeps) continues that run: its curves go
    on, and its parameters stay those it began with (MLflow refuses to change them).
    """

    def __init__(
        self,
        tracking_uri: str,
        run_name: str | None = None,
        tags: Iterable[str] | Mapping[str, Any] = (),
        artifact_location: str | None = None,
        log_model: bool = False,
        **kwargs: Any,
    ) -> None:
        if tracking_uri.startswith("sqlite:///"):
            Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if artifact_location and not tracking_uri.startswith(SERVER_SCHEMES):
            artifact_location = Path(artifact_location).resolve().as_uri()
        else:
            artifact_location = None
        labels = dict(tags) if isinstance(tags, Mapping) else dict.fromkeys(tags, "true")
        if run_id := kwargs.get("run_id"):  # a checkpoint copied from elsewhere names another's
            from mlflow import MlflowClient
            from mlflow.exceptions import MlflowException

            try:
                MlflowClient(tracking_uri).get_run(run_id)
            except MlflowException:
                log.warning("MLflow: no run %s in %s; starting a new run", run_id, tracking_uri)
                kwargs["run_id"] = None
        self.resumed = bool(kwargs.get("run_id"))
        super().__init__(
            tracking_uri=tracking_uri,
            run_name=run_name or overrides_name(),
            tags=labels or None,
            artifact_location=artifact_location,
            **kwargs,
        )
        self.log_checkpoints = log_model
        self.saving_callbacks: dict[int, ModelCheckpoint] = {}

    def resume_arguments(self) -> dict[str, Any]:
        return {"run_id": self.run_id}

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        # Every run logs them first: the experiment is tagged then, unless the user tagged it.
        key, kind = EXPERIMENT_KIND
        if key not in self.experiment.get_experiment(self.experiment_id).tags:
            self.experiment.set_experiment_tag(self.experiment_id, key, kind)
        if not self.resumed:  # logged when the run began, and MLflow keeps them unchanged
            super().log_hyperparams(params, *args, **kwargs)

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        if self.log_checkpoints:  # logged at the end, when each callback's files are final
            self.saving_callbacks[id(checkpoint_callback)] = checkpoint_callback

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        paths = {
            path
            for callback in self.saving_callbacks.values()
            for path in (callback.best_model_path, callback.last_model_path)
            if path and Path(path).is_file()
        }
        for path in sorted(paths):
            self.experiment.log_artifact(self.run_id, path, artifact_path=Path(path).stem)
        super().finalize(status)
