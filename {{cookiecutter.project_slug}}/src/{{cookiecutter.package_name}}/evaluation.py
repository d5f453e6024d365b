"""`eval.py`: test a trained checkpoint on the test split and report its metrics."""

import logging
from pathlib import Path

import lightning as L
from omegaconf import DictConfig

from .build import build, scalars
from .runs import print_metrics, save_metrics
from .runs.checkpoints import from_checkpoint
from .runs.checks import check_before_start
from .runs.model_card import MODEL_CARD

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Tests the checkpoint `cfg.ckpt_path` on the test split; returns and saves its metrics.

    The data and model are the checkpoint's own (runs/checkpoints.py); Lightning hands the
    DataModule the statistics it learnt in training (`load_state_dict`) before the test split is
    read.
    """
    output_dir = Path(cfg.paths.output_dir)
    cfg, trained, _ = from_checkpoint(cfg)
    ckpt_path = check_before_start(cfg, checkpoint_required=True)
    L.seed_everything(cfg.seed, workers=True)
    datamodule, model, trainer, record = build(cfg)
    log.info("Testing %s", ckpt_path)
    trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = scalars(trainer.callback_metrics)
    record.log_results(trainer, metrics)
    if trainer.is_global_zero:
        save_metrics(metrics, output_dir / "metrics.json")
        # The trained run's model card gets the results (a checkpoint from elsewhere: one here).
        run_dir = Path(trained).resolve().parent.parent
        if not (run_dir / MODEL_CARD).is_file():
            run_dir = output_dir
        card = record.write_model_card(trainer, metrics, "eval.py", run_dir)
        log.info("Model card: %s", card)
        print_metrics(metrics, title="Test metrics")
    return metrics
