"""The one build step every flow shares: a composed config -> its DataModule, model and Trainer.

Objects are built here only, from the config's `_target_`s, with what the run adds at the call
site (the callbacks of the task, the loggers). An argument a `_target_` refuses fails with that
node's config key (Hydra notes it on the exception; the build adds the group's where it did not).
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig

from .callbacks import RunRecord
from .config import instantiate
from .errors import KEY_NOTE


def build(
    cfg: DictConfig, callbacks: bool = False, loggers: bool = True, **model_options: Any
) -> tuple[L.LightningDataModule, L.LightningModule, L.Trainer, RunRecord]:
    """The data, model and trainer of `cfg`, built after seeding every generator with cfg.seed,
    the trainer with a `RunRecord` of the run in cfg.paths.output_dir; `callbacks`: also the
    callbacks group (training), `loggers`: the logger group (else none)."""
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_node("data", cfg.data)
    model = build_node("model", cfg.model, **model_options)
    # By config key: a resumed run's checkpoint names each tracker run so (`RunRecord`).
    run_loggers = build_group("logger", cfg.get("logger")) if loggers else {}
    record = RunRecord(cfg, Path(cfg.paths.output_dir), run_loggers)
    group = [*build_group("callbacks", cfg.get("callbacks")).values()] if callbacks else []
    trainer = build_node(
        "trainer", cfg.trainer, callbacks=[*group, record], logger=[*run_loggers.values()] or False
    )
    return datamodule, model, trainer, record


def build_node(key: str, node: Any, **kwargs: Any) -> Any:
    """`instantiate(node)`; an error raised by its `_target_` carries the node's config key."""
    try:
        return instantiate(node, **kwargs)
    except Exception as error:
        notes = getattr(error, "__notes__", [])
        if not any(str(note).startswith(KEY_NOTE) for note in notes):
            # Python 3.10 has no add_note and Hydra notes nothing there: the group's key.
            error.__notes__ = [*notes, f"{KEY_NOTE}{key}"]  # type: ignore[attr-defined]
        raise


def build_group(key: str, group: Mapping[str, Any] | None) -> dict[str, Any]:
    """Builds each `_target_` entry of a group such as `callbacks` or `logger`, in config order,
    by its name in the group."""
    return {
        name: build_node(f"{key}.{name}", node)
        for name, node in (group or {}).items()
        if node and "_target_" in node
    }


def scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items()}
