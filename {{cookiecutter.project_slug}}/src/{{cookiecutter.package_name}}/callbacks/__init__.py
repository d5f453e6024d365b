"""Callbacks the configs in conf/callbacks/ build, where Lightning's own need a small change,
`RunRecord`, which every task adds to record what ran, and the trainer's checkpoint writer."""

import io
import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, OnExceptionCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from ..errors import TrainingDiverged
from ..loggers import compared_hyperparameters
from ..runs import (
    DATA_FINGERPRINT,
    RUN_CONFIG,
    RUN_INFO,
    TRACKER_RUNS,
    atomic_open,
    git_state,
    job_config,
    package_versions,
    record_run,
)
from ..runs.checkpoints import command_line_overrides

log = logging.getLogger(__name__)


class OptionalLearningRateMonitor(LearningRateMonitor):
    """Logs learning rates when the run has a logger and does nothing without one.

    Lightning's monitor raises for a trainer without loggers, which would make `logger=none`
    fail with the default callbacks.
    """

    def on_train_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.loggers:
            super().on_train_start(trainer, *args, **kwargs)

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.loggers:
            super().on_train_batch_start(trainer, *args, **kwargs)

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.loggers:
            super().on_train_epoch_start(trainer, *args, **kwargs)


class StopOnNonFiniteLoss(Callback):
    """Stops at the first NaN/Inf training loss, before a checkpoint can store the bad weights."""

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        bad = loss is not None and not bool(torch.isfinite(loss).all())
        # All processes stop together: one stopping alone leaves the others waiting forever at
        # their next gradient all-reduce (a single process's strategy returns `bad` as it is).
        if not trainer.strategy.reduce_boolean_decision(bad, all=False):
            return
        value = loss.item() if loss is not None else float("nan")
        checkpoint = last_checkpoint(trainer) or "none saved"
        raise TrainingDiverged(
            f"the training loss became {value} at epoch {trainer.current_epoch}, step"
            f" {trainer.global_step}; stopped. Last good checkpoint: {checkpoint}. Start again"
            " with a lower model.optimizer.lr, or resume from it with trainer.gradient_clip_val=1.0"
            " (a resumed run keeps its optimizer's learning rate)"
        )


def last_checkpoint(trainer: L.Trainer) -> str | None:
    """The run's last.ckpt (the end of its latest epoch), once one is saved."""
    dirpath = getattr(trainer.checkpoint_callback, "dirpath", None)
    path = Path(dirpath) / "last.ckpt" if dirpath else None
    return str(path) if path and path.is_file() else None


class CheckpointOnSigterm(OnExceptionCheckpoint):
    """Saves last.ckpt when the run receives SIGTERM (as SLURM sends before a requeue or kill).

    Lightning turns SIGTERM into a clean exit after the current batch; this saves the state at
    that point, mid-epoch included, so `ckpt_path=last` continues from there. Other exceptions
    save nothing: a NaN loss must not overwrite the last good checkpoint.
    """

    def __init__(self, dirpath: str, filename: str = "last") -> None:
        super().__init__(dirpath, filename)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        # Where checkpoints go now: a resumed run keeps saving into the folder it resumed from.
        self.dirpath = getattr(trainer.checkpoint_callback, "dirpath", None) or self.dirpath
        super().on_exception(trainer, pl_module, exception)
        log.warning("Received SIGTERM: saved %s; continue with ckpt_path=last", self.ckpt_path)

    def teardown(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        pass  # Lightning's deletes the file after a clean run; here it is the run's last.ckpt


class RunRecord(Callback):
    """Records the run once its work starts: the resolved config, provenance and the data's
    fingerprint in the run folder (`record_run`), and the hyperparameters a person compares
    with the model's size in every logger; at the end, `log_results` puts the final metrics
    beside them and `write_model_card` the model card. Every checkpoint carries the resolved
    config too, so eval.py, predict.py and the other commands rebuild the model it holds from
    the file alone (runs/checkpoints.py), the data's fingerprint, and what continues each
    tracker's run when training resumes from it (`loggers`: the run's, by config key)."""

    def __init__(self, cfg: DictConfig, output_dir: Path, loggers: dict[str, Any]) -> None:
        self.config = job_config(cfg)  # resolved now: spawned DDP processes have no Hydra state
        self.overrides = command_line_overrides()
        self.output_dir = output_dir
        self.loggers = loggers
        self.data_fingerprint: dict[str, Any] | None = None
        self.hyperparameters: dict[str, Any] | None = None  # as the loggers got them
        self.logged: set[str] = set()  # the metrics Lightning logged, stage by stage

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or self.hyperparameters is not None:
            return
        from ..runs.fingerprint import data_fingerprint  # once training starts

        self.data_fingerprint = data_fingerprint(self.config["data"])
        if not (self.output_dir / RUN_INFO).exists():  # a resumed job keeps its first record
            record_run(self.output_dir, self.config, {DATA_FINGERPRINT: self.data_fingerprint})
        params = list(pl_module.parameters())
        self.hyperparameters = compared_hyperparameters(self.config, self.overrides)
        self.hyperparameters["run_info"] = {
            "git_commit": git_state(Path(__file__).resolve().parent)["commit"],
            "params_total": sum(p.numel() for p in params),
            "params_trainable": sum(p.numel() for p in params if p.requires_grad),
        }
        for logger in trainer.loggers:
            logger.log_hyperparams(self.hyperparameters)

    on_test_start = on_predict_start = on_train_start  # eval.py, predict.py: no training

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # Plain values, which torch.load(weights_only=True) reads: see runs/checkpoints.py.
        checkpoint[RUN_CONFIG] = self.config
        if trainer.is_global_zero:  # the process that writes the file and holds the runs
            checkpoint[DATA_FINGERPRINT] = self.data_fingerprint
            checkpoint[TRACKER_RUNS] = {
                key: logger.resume_arguments()
                for key, logger in self.loggers.items()
                if hasattr(logger, "resume_arguments")
            }

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.logged |= set(trainer.callback_metrics)

    on_test_end = on_fit_end

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, error: Any) -> None:
        # A run stopped early (pruned, diverged) still shows in the trackers' comparisons.
        self.log_results(trainer, {k: float(v) for k, v in trainer.callback_metrics.items()})

    def log_results(self, trainer: L.Trainer, metrics: dict[str, float]) -> None:
        """The final metrics (metrics.json) in the trackers' comparison of runs.

        A logger that records them its own way does so (`log_final_results`); the others compare
        the last value of each metric, so they get those no epoch logged (the best checkpoint's
        score); the CSV log keeps to the epochs.
        """
        if not trainer.is_global_zero or self.hyperparameters is None:
            return
        step = trainer.global_step
        new = {k: v for k, v in metrics.items() if k not in self.logged}
        for logger in trainer.loggers:
            if hasattr(logger, "log_final_results"):
                logger.log_final_results(self.hyperparameters, metrics, step)
            elif new and not isinstance(logger, CSVLogger):
                logger.log_metrics(new, step=step)

    def write_model_card(
        self, trainer: L.Trainer, metrics: dict[str, float], command: str, run_dir: Path
    ) -> Path | None:
        """<run_dir>/MODEL_CARD.md with `command`'s `metrics` (saved in this run's
        metrics.json) as a result, on the data the run used (runs/model_card.py)."""
        if not trainer.is_global_zero or self.hyperparameters is None:
            return None
        from ..runs.model_card import model_index_result, package_license, write_model_card

        hparams = trainer.lightning_module.hparams
        kind = "image" if len(hparams.get("input_shape", ())) == 3 else "tabular"
        dataset = str(self.config["data"]["_target_"]).rsplit(".", 1)[-1]
        if self.data_fingerprint:
            dataset += f" ({', '.join(Path(p).name for p in self.data_fingerprint['paths'])})"
        task = f"{kind}-{hparams.get('task', 'regression')}"
        result = model_index_result(
            command, self.output_dir / "metrics.json", task, dataset, metrics
        )
        package = __name__.split(".")[0]
        about = {
            "license": package_license(package),
            "tags": ["pytorch", "lightning", "hydra"],
            DATA_FINGERPRINT: self.data_fingerprint,
            "hyperparameters": self.hyperparameters,
            "library_versions": package_versions(),
        }
        return write_model_card(run_dir, package.replace("_", "-"), result, about)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file in its own folder, then renames it into place.

    Lightning's writer stages the file in the system's temporary folder and moves it, which
    between two filesystems is a copy: a full disk then leaves a truncated checkpoint under its
    final name. Renamed within its folder, a checkpoint is whole or not there, and the one it
    replaces stays until then. Remote paths (s3://...) keep Lightning's own writer.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path) or storage_options is not None:
            return super().save_checkpoint(checkpoint, path, storage_options)
        buffer = io.BytesIO()  # serialised first: a failing write is then an OSError, named
        torch.save(checkpoint, buffer)
        with atomic_open(Path(path), "wb") as file:
            file.write(buffer.getbuffer())
