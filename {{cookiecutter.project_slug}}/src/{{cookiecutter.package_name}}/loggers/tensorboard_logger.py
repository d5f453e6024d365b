"""TensorBoard: Lightning's `TensorBoardLogger`, with the final metrics in the HParams tab."""

from pathlib import Path
from typing import Any

from lightning.pytorch import loggers


class TensorBoardLogger(loggers.TensorBoardLogger):
    """Lightning's `TensorBoardLogger`. TensorBoard's HParams tab shows the metrics logged with
    the hyperparameters: at the end of a run they go there as `hp/<metric>`, beside the
    per-epoch curves. A run resumed from a checkpoint writes on into the folder of the run
    that saved it (`resume_arguments`), so the curves continue in one TensorBoard run."""

    def resume_arguments(self) -> dict[str, Any]:
        save_dir = str(Path(self.save_dir).resolve())
        return {"save_dir": save_dir, "name": self.name, "version": self.version}

    def log_final_results(
        self, hyperparameters: dict[str, Any], metrics: dict[str, float], step: int
    ) -> None:
        hp_metrics = {f"hp/{name}": value for name, value in metrics.items()}
        self.log_hyperparams(hyperparameters, metrics=hp_metrics, step=step)
