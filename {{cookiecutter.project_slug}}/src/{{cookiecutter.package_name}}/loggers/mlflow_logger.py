"""MLflow: Lightning's `MLFlowLogger`, with a local SQLite store unless a server is given."""

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch import loggers
from lightning.pytorch.callbacks import ModelCheckpoint

from . import overrides_name

# Tracking URIs of a server, which keeps the artifacts where it is configured to.
SERVER_SCHEMES = ("http://", "https://", "databricks")


class MLFlowLogger(loggers.MLFlowLogger):
    """Lightning's `MLFlowLogger`, with the run named after its overrides, each of `tags`
    (labels such as `baseline`) an MLflow tag, and a new experiment's artifacts kept in
    `artifact_location` (under logs/) unless a tracking server keeps them.

    Makes the folder of a `sqlite:///` store, which SQLite does not. With `log_model=true` it
    logs the checkpoints of every `ModelCheckpoint` at the end (the best and last.ckpt);
    Lightning's `MLFlowLogger` logs those of the last one that saved.
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
