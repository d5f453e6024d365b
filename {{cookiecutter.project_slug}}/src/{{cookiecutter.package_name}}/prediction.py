"""`predict.py`: a trained checkpoint's predictions, for new inputs or for one split, as CSV.

    python predict.py ckpt_path=<file> input=new_rows.csv
    python predict.py ckpt_path=<file> split=val

New inputs are read and transformed as the training samples were: the checkpoint holds the
data's settings and what it learnt from the training split (statistics, classes, columns, the
images' size), so nothing is computed from the new data.
"""

import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import torch
from omegaconf import DictConfig

from .build import build
from .data.datamodule import SPLITS, ArrayDataModule
from .errors import ConfigError
from .models.supervised import SupervisedModule
from .runs import atomic_open
from .runs.checkpoints import (
    from_checkpoint,
    require_data_state,
    trained_data_state,
    trained_shapes,
)
from .runs.checks import check_before_start

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> Path:
    """Writes <run>/predictions.csv for `cfg.input`, else <run>/predictions_<split>.csv."""
    if not cfg.get("input") and cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split} is not a split; use one of: {', '.join(SPLITS)}")
    output_dir = Path(cfg.paths.output_dir)
    cfg, ckpt_path, checkpoint = from_checkpoint(cfg)
    check_before_start(cfg, checkpoint_required=True)
    datamodule, model, trainer, _ = build(cfg, loggers=False)
    if not isinstance(datamodule, ArrayDataModule):
        raise ConfigError(f"predict.py reads splits of an ArrayDataModule, not {cfg.data._target_}")
    cast(SupervisedModule, model).build(*trained_shapes(checkpoint, ckpt_path))
    if trainer.world_size > 1:  # each process would predict only its own shard
        raise ConfigError("predict.py runs in one process: use trainer=cpu or trainer=gpu")
    if cfg.get("input"):
        datamodule.load_state_dict(require_data_state(checkpoint, datamodule, ckpt_path))
        ids, features = datamodule.read_inputs(Path(cfg.input))
        loader = datamodule.inputs_dataloader(features)
        path = output_dir / "predictions.csv"
    else:
        datamodule.setup("predict")
        if state := trained_data_state(checkpoint, datamodule):
            datamodule.load_state_dict(state)  # the training split's statistics, as eval.py
        loader = datamodule.split_dataloader(cfg.split)
        path = output_dir / f"predictions_{cfg.split}.csv"
    batches = trainer.predict(model, dataloaders=loader, ckpt_path=ckpt_path)
    # One loader, so predict() returns the list of its batches' outputs.
    outputs = torch.cat(cast(list[torch.Tensor], batches))
    if cfg.get("input"):
        rows = input_rows(ids, outputs, datamodule.task, datamodule.classes)
    else:
        rows = split_rows(torch.as_tensor(datamodule.split(cfg.split).targets), outputs)
    with atomic_open(path, "w", newline="") as file:
        csv.writer(file).writerows(rows)
    log.info("Wrote %d predictions to %s", len(outputs), path.resolve())
    return path


def input_rows(
    ids: Sequence[str], outputs: torch.Tensor, task: str, classes: Sequence[str]
) -> list[list[Any]]:
    """The header, then one row per input: its id (row number or file), the prediction, and for
    classification the predicted class and each class's probability (softmax of the network's
    outputs)."""
    outputs = outputs.reshape(len(ids), -1).float()
    if task == "classification":
        probabilities = outputs.softmax(dim=1)
        header = ["id", "prediction", *(f"probability_{name}" for name in classes)]
        rows = [[classes[int(p.argmax())], *p.tolist()] for p in probabilities]
    else:
        width = outputs.shape[1]
        names = ["prediction"] if width == 1 else [f"prediction_{i}" for i in range(width)]
        header, rows = ["id", *names], outputs.tolist()
    return [header, *([id_, *row] for id_, row in zip(ids, rows, strict=True))]


def split_rows(targets: torch.Tensor, outputs: torch.Tensor) -> list[list[Any]]:
    """The header, then one row per sample: index, target_0.., prediction_0.."""
    targets, outputs = targets.reshape(len(targets), -1), outputs.reshape(len(targets), -1)
    header = ["index", *(f"target_{i}" for i in range(targets.shape[1]))]
    header += [f"prediction_{i}" for i in range(outputs.shape[1])]
    pairs = zip(targets.tolist(), outputs.tolist(), strict=True)
    return [header, *([i, *target, *output] for i, (target, output) in enumerate(pairs))]
