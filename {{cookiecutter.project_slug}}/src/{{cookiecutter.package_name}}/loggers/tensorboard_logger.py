"""TensorBoard: Lightning's `TensorBoardLogger`, with the final metrics in the HParams tab."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch import loggers


class TensorBoardLogger(loggers.TensorBoardLogger):
    """Lightning's `TensorBoardLogger`. TensorBoard's HParams tab shows each run's
    hyperparameters beside the metrics logged with them: at the end of a run they go there as
    `hp/<metric>`, beside the per-epoch curves. A run resumed from a checkpoint writes on into
    the folder of the run that saved it (`resume_arguments`), so its curves continue there."""

    def resume_arguments(self) -> dict[str, Any]:
        save_dir = str(Path(self.save_dir).resolve())
        return {"save_dir": save_dir, "name": self.name, "version": self.version}

    def log_final_results(
        self, hyperparameters: dict[str, Any], metrics: dict[str, float], step: int
    ) -> None:
        from torch.utils.tensorboard.summary import hparams

        hp_metrics = {f"hp/{name}": value for name, value in metrics.items()}
        self.log_metrics(hp_metrics, step)
        # The run's session without an experiment summary (Lightning's logger writes one per
        # run, which fixes the columns in name order): TensorBoard then builds the table from
        # all the runs, and shows first the hyperparameters whose values differ between them.
        _, session_start, session_end = hparams(flat(hyperparameters), hp_metrics)
        writer = self.experiment.file_writer
        assert writer is not None  # SummaryWriter opens it when created
        for summary in (session_start, session_end):
            writer.add_summary(summary, step)


def flat(node: Any, prefix: str = "") -> dict[str, Any]:
    """{"model/optimizer/lr": 0.1, ...}: nested keys joined by "/", lists as text."""
    if isinstance(node, Mapping):
        return {
            k: v for key, value in node.items() for k, v in flat(value, f"{prefix}{key}/").items()
        }
    return {prefix.rstrip("/"): node if isinstance(node, int | float | str | bool) else str(node)}
