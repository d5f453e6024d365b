"""`eval.py`: test a trained checkpoint on the test split and report its metrics."""

import logging
from pathlib import Path

from omegaconf import DictConfig

from .build import build, scalars
from .runs import save_metrics
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
    cfg, ckpt_path, _ = from_checkpoint(cfg)
    check_before_start(cfg, checkpoint_required=True)
    datamodule, model, trainer, record = build(cfg)
    log.info("Testing %s", ckpt_path)
    trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = scalars(trainer.callback_metrics)
    record.log_results(trainer, metrics)
    if trainer.is_global_zero:
        save_metrics(metrics, output_dir / "metrics.json", title="Test metrics")
        # The trained run's model card gets the results (a checkpoint from elsewhere: one here).
        trained_run = Path(ckpt_path).resolve().parent.parent
        run_dir = trained_run if (trained_run / MODEL_CARD).is_file() else output_dir
        card = record.write_model_card(trainer, metrics, "eval.py", run_dir)
        log.info("Model card: %s", card)
    return metrics
