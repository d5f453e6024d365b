"""Dataclass schemas of the config, registered in Hydra's ConfigStore: types and known keys.

The top level and the trainer are closed (every key is known, so a typo is an error). The data
and model groups only type the keys all their options share; each option may add its own keys.
"""

import inspect
from dataclasses import dataclass, field, make_dataclass
from typing import Any

import lightning as L
from hydra.core.config_store import ConfigStore


@dataclass
class MonitorSchema:
    metric: str = "val/loss"
    mode: str = "min"


@dataclass
class DataSchema:
    _target_: str = "???"
    task: str = "???"
    num_features: int = "???"  # type: ignore[assignment]  # ??? marks a required value
    num_outputs: int = "???"  # type: ignore[assignment]
    batch_size: int = 64
    num_workers: int = 0
    pin_memory: bool = False


@dataclass
class OptimizerSchema:
    _target_: str = "???"
    _partial_: bool = True
    lr: float = "???"  # type: ignore[assignment]


@dataclass
class ModelSchema:
    _target_: str = "???"
    task: str = "???"
    num_outputs: int = "???"  # type: ignore[assignment]
    monitor: str = "val/loss"
    net: Any = None
    loss: Any = None
    optimizer: OptimizerSchema = field(default_factory=OptimizerSchema)
    scheduler: Any = None


# Types checked for the Trainer arguments people set most; every other argument is accepted
# as any value, so the schema follows Lightning's own signature and never goes stale.
TRAINER_TYPES: dict[str, Any] = {
    "max_epochs": int | None,
    "min_epochs": int | None,
    "max_steps": int,
    "num_nodes": int,
    "accumulate_grad_batches": int,
    "gradient_clip_val": float | None,
    "check_val_every_n_epoch": int | None,
    "log_every_n_steps": int | None,
    "sync_batchnorm": bool,
    "detect_anomaly": bool,
    "benchmark": bool | None,
    "enable_checkpointing": bool | None,
    "enable_progress_bar": bool | None,
    "enable_model_summary": bool | None,
    "default_root_dir": str | None,
}


def _trainer_schema() -> type:
    """A dataclass with one field per `lightning.Trainer` argument, plus `_target_`."""
    fields: list[tuple[str, Any, Any]] = [("_target_", str, "lightning.pytorch.Trainer")]
    for name, parameter in inspect.signature(L.Trainer.__init__).parameters.items():
        if name == "self":
            continue
        default = parameter.default
        plain = isinstance(default, int | float | str) or default is None
        fields.append((name, TRAINER_TYPES.get(name, Any), default if plain else None))
    return make_dataclass("TrainerSchema", fields)


TrainerSchema = _trainer_schema()


@dataclass
class TrainSchema:
    """The top level of conf/train.yaml; groups without a schema are free-form (Any)."""

    seed: int = 42
    test: bool = True
    ckpt_path: str | None = None
    compile: bool = False
    monitor: MonitorSchema = field(default_factory=MonitorSchema)
    data: DataSchema = field(default_factory=DataSchema)
    model: ModelSchema = field(default_factory=ModelSchema)
    trainer: TrainerSchema = field(default_factory=TrainerSchema)  # type: ignore[valid-type]


OPEN_GROUPS = ("data", "model", "model.optimizer")  # options may add keys of their own


def register_schemas() -> None:
    """Makes the schemas available to configs (`defaults: [/schema/trainer]`) and tools."""
    store = ConfigStore.instance()
    store.store(group="schema", name="train", node=TrainSchema)
    store.store(group="schema", name="trainer", node=TrainerSchema)
    store.store(group="schema", name="data", node=DataSchema)
    store.store(group="schema", name="model", node=ModelSchema)
