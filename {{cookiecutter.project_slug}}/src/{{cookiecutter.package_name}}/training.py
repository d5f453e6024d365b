"""One training run from a composed config: check -> data -> model -> trainer -> fit -> test."""

import json
import logging
import math
import shlex
import sys
import warnings
from pathlib import Path
from typing import NoReturn

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from .build import build, scalars
from .callbacks import last_checkpoint
from .errors import TrainingDiverged
from .loggers import end_runs
from .runs import remove_partial_files, save_metrics
from .runs.checkpoints import command_line_overrides, continue_tracker_runs, read_checkpoint
from .runs.checks import check_before_start

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Trains and tests the configured model; returns the final metrics (also in metrics.json).

    `cfg` is conf/train.yaml as Hydra composed it for `python train.py`, or as a test composes
    it with `hydra.compose` (with or without `return_hydra_config`).
    """
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = check_before_start(cfg)  # resume from here, if given
    if (output_dir / "metrics.json").is_file():  # and the folder's config is this one
        log.warning(
            "%s holds this config's finished run: nothing to train. Train on from it in a new"
            " folder with ckpt_path=%s and a larger trainer.max_epochs",
            output_dir,
            output_dir / "checkpoints" / "last.ckpt",
        )
        return json.loads((output_dir / "metrics.json").read_text())
    continue_tracker_runs(cfg, ckpt_path)

    datamodule, model, trainer, record = build(cfg, callbacks=True, compile=cfg.compile)
    nodes, devices, world = trainer.num_nodes, trainer.num_devices, trainer.world_size
    log.info("Training on %d node(s) x %d device(s): world size %d", nodes, devices, world)
    if ckpt_path:
        log.info("Resuming from %s", ckpt_path)
        continue_checkpoints(trainer, Path(ckpt_path))
    if trainer.is_global_zero:  # a folder run before (a requeued job) is this run's, resumed
        remove_partial_files(output_dir)
    with warnings.catch_warnings():
        # "last": the newest checkpoint in this run's own folder, so a job started again there
        # (as SLURM requeues a preempted job) continues; a new run has none, which is no news.
        warnings.filterwarnings("ignore", r".*there is no last checkpoint available")
        # A resumed run goes on saving into its checkpoints' folder (continue_checkpoints).
        warnings.filterwarnings("ignore", r"Checkpoint directory .* exists and is not empty")
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path or "last")
        except SystemExit as stop:  # SIGTERM's clean exit, or Lightning's once Ctrl-C shut it down
            if isinstance(stop.__context__, KeyboardInterrupt):
                stop_interrupted(trainer)
            raise
    metrics = scalars(trainer.callback_metrics)
    checkpoint = trainer.checkpoint_callback  # the first ModelCheckpoint: the best one
    best = getattr(checkpoint, "best_model_path", "") or None  # None: test the final weights
    # A monitored metric NaN or infinite at the end: the run diverged, whatever its loss did.
    if not math.isfinite(value := metrics.get(cfg.monitor.metric, 0.0)):
        raise TrainingDiverged(
            f"{cfg.monitor.metric} is {value} at the end of training (epoch"
            f" {trainer.current_epoch - 1}): the run diverged. Best checkpoint:"
            f" {best or 'none saved'}. Start again with a lower model.optimizer.lr, or"
            " trainer.gradient_clip_val=1.0"
        )
    best_score = getattr(checkpoint, "best_model_score", None)
    if best_score is not None and (monitored := getattr(checkpoint, "monitor", None)):
        # The monitored value of the checkpoint that is kept and tested, beside the last epoch's.
        metrics.setdefault(f"{monitored}_best", float(best_score))
    if cfg.get("test"):
        log.info("Testing %s", best or "the final weights")
        trainer.test(model, datamodule=datamodule, ckpt_path=best)
        metrics |= scalars(trainer.callback_metrics)

    record.log_results(trainer, metrics)
    if trainer.is_global_zero:
        save_metrics(metrics, output_dir / "metrics.json")
        record.write_model_card(trainer, metrics, "train.py", output_dir)
        from .tools.plots import plot_csv_log  # matplotlib, only once the results are saved

        if plot := plot_csv_log(trainer.loggers, output_dir / "metrics.png"):
            log.info("Curves: %s", plot)
        log.info("Run directory: %s", output_dir.resolve())
    end_runs(trainer.loggers)
    return metrics


def stop_interrupted(trainer: L.Trainer) -> NoReturn:
    """After Ctrl-C: one line with the checkpoint to go on from, its epoch, and the command that
    resumes the run (this one's overrides, with that checkpoint); exit status 130, as for SIGINT.
    """
    overrides = [o for o in command_line_overrides() if not o.startswith("ckpt_path=")]
    # The interpreter and the script or module as typed; sys.argv holds the arguments after it.
    command = sys.orig_argv[: len(sys.orig_argv) - len(sys.argv) + 1] + overrides
    if checkpoint := last_checkpoint(trainer):
        epoch = read_checkpoint(checkpoint)["epoch"]
        line = f"the last checkpoint, from the end of epoch {epoch}, is {checkpoint}. Resume with:"
        command.append(f"ckpt_path={checkpoint}")
    else:
        line = f"in epoch {trainer.current_epoch}, before a checkpoint was saved. Start again with:"
    if trainer.is_global_zero:
        print(f"Interrupted; {line} {shlex.join(command)}", file=sys.stderr)
    raise SystemExit(130)


def continue_checkpoints(trainer: L.Trainer, ckpt_path: Path) -> None:
    """Resumed runs keep checkpointing into the folder they resume from.

    ModelCheckpoint forgets its best score and best checkpoints when its folder changes; kept,
    the best model (tested at the end, and a sweep's value) is the best over all epochs.
    """
    if ckpt_path.parent.name != "checkpoints":  # a file from elsewhere: leave the run's own folder
        return
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint):
            callback.dirpath = str(ckpt_path.parent.resolve())
    if trainer.is_global_zero:  # what a killed write left there: this run writes there now
        remove_partial_files(ckpt_path.parent.parent)
    log.info("Checkpoints continue in %s", ckpt_path.parent.resolve())
