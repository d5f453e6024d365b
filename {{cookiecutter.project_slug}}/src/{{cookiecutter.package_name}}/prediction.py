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

import lightning as L
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
    L.seed_everything(cfg.seed, workers=True)
    built = build(cfg, loggers=False)
    datamodule, trainer = built.datamodule, built.trainer
    if not isinstance(datamodule, ArrayDataModule):
        target = cfg.data["_target_"]
        raise ConfigError(f"predict.py reads splits of an ArrayDataModule, not {target}")
    model = cast(SupervisedModule, built.model)
    model.build(*trained_shapes(checkpoint, ckpt_path))
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
        write_input_predictions(path, ids, outputs, datamodule.task, datamodule.classes)
    else:
        dataset = datamodule.split(cfg.split)
        targets = torch.as_tensor(dataset.targets).reshape(len(dataset), -1)
        write_predictions(path, targets, outputs.reshape(len(dataset), -1))
    log.info("Wrote %d predictions to %s", len(outputs), path.resolve())
    return path


def write_input_predictions(
    path: Path, ids: Sequence[str], outputs: torch.Tensor, task: str, classes: Sequence[str]
) -> None:
    """One row per input: its id (row number or file), the prediction, and for classification
    the predicted class and each class's probability (softmax of the network's outputs)."""
    outputs = outputs.reshape(len(ids), -1).float()
    header: list[str] = ["id"]
    rows: list[list[Any]] = []
    if task == "classification":
        probabilities = outputs.softmax(dim=1)
        header += ["prediction", *(f"probability_{name}" for name in classes)]
        for id_, p in zip(ids, probabilities, strict=True):
            rows.append([id_, classes[int(p.argmax())], *p.tolist()])
    else:
        width = outputs.shape[1]
        header += ["prediction"] if width == 1 else [f"prediction_{i}" for i in range(width)]
        rows = [[id_, *row.tolist()] for id_, row in zip(ids, outputs, strict=True)]
    with atomic_open(path, "w", newline="") as file:
        csv.writer(file).writerows([header, *rows])


def write_predictions(path: Path, targets: torch.Tensor, predictions: torch.Tensor) -> None:
    """One row per sample: index, target_0.., prediction_0.."""
    columns = [f"target_{i}" for i in range(targets.shape[1])]
    columns += [f"prediction_{i}" for i in range(predictions.shape[1])]
    with atomic_open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["index", *columns])
        for index, (target, prediction) in enumerate(zip(targets, predictions, strict=True)):
            writer.writerow([index, *target.tolist(), *prediction.tolist()])
