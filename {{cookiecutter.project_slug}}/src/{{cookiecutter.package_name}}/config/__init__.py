"""The config's schema: the keys and types Hydra checks while it composes, before anything runs.

Each dataclass is stored in Hydra's ConfigStore and placed in the defaults list of
conf/train.yaml, so a misspelt key, a value of the wrong type or an unknown option fails at
composition, the same way for a run, a multirun, `--cfg job` and `--help`. The data and model
schemas are merged after the chosen option: they type the keys every option shares and close the
group to new keys, while each option keeps its own (`data.path`, `model.net.hidden_sizes`).

Only Hydra and OmegaConf are imported here: the command line composes configs without loading the
training stack.
"""

import os
import pkgutil
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


@dataclass
class MonitorConf:
    metric: str = "val/loss"
    mode: str = "min"


@dataclass
class TrainConf:
    """The top level of conf/train.yaml; the groups are typed by the schemas below."""

    seed: int = 42
    test: bool = True
    compile: bool = False
    ckpt_path: str | None = None
    tags: list[str] = field(default_factory=list)
    monitor: MonitorConf = field(default_factory=MonitorConf)
    optimized_metric: str | None = None  # what a multirun's jobs return; unset: monitor.metric
    data: Any = MISSING
    model: Any = MISSING
    trainer: Any = MISSING
    callbacks: Any = None
    logger: Any = None
    paths: Any = MISSING


@dataclass
class PredictConf(TrainConf):
    split: str = "test"
    input: str | None = None  # a file or folder of new inputs to predict instead of a split


# Merged after the option (values ??? here, so the option's values win): types and closes.
@dataclass
class DataConf:
    _target_: str = MISSING
    batch_size: int = MISSING
    num_workers: int | None = MISSING  # None: the data module chooses for the machine
    pin_memory: bool | None = MISSING


@dataclass
class OptimizerConf:
    _target_: str = MISSING
    lr: float = MISSING


@dataclass
class TargetConf:
    _target_: str = MISSING


@dataclass
class ModelConf:
    _target_: str = MISSING
    net: TargetConf = field(default_factory=TargetConf)
    optimizer: OptimizerConf = field(default_factory=OptimizerConf)


# What configs may build (Hydra's execution whitelist): this package and the libraries it uses.
TRUSTED_TARGETS = [
    f"{__package__.rpartition('.')[0]}.*",
    "torch.*",
    "torchvision.*",
    "torchmetrics.*",
    "lightning.*",
    "hydra_plugins.*",  # Hydra's launchers
    "logging.*",
]


def instantiate(config: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, allowed to build the trusted targets only."""
    return hydra.utils.instantiate(config, **kwargs, _execution_whitelist_=TRUSTED_TARGETS)


SCHEMAS = {
    "train_schema": TrainConf,
    "predict_schema": PredictConf,
    "data_schema": DataConf,
    "model_schema": ModelConf,
}


def on_rank_zero(value: Any, elsewhere: Any) -> Any:
    """`value` in the process of global rank 0, `elsewhere` in the others; a resolver.

    The other processes of a DDP run (started by Lightning, torchrun or srun) write no run
    folder and no log file of their own: rank 0 owns them.
    """
    ranks = (os.environ.get(name, "0") for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK"))
    return value if all(rank == "0" for rank in ranks) else elsewhere


def register_configs(command: str | None = None) -> None:
    """Stores the schemas and resolvers that conf/*.yaml name; call it once before composing.

    The command line calls it before Hydra composes; a test or a notebook that composes with
    Hydra's compose API calls it first too: `register_configs()`, then `initialize_config_dir`.
    The other commands' schemas (conf/export.yaml...) are the `SCHEMAS` of this package's modules
    of the same name: every one, or `command`'s alone.
    """
    schemas = dict(SCHEMAS)
    for module in pkgutil.iter_modules(__path__):
        if command in (None, module.name):
            schemas |= import_module(f"{__name__}.{module.name}").SCHEMAS
    store = ConfigStore.instance()
    for name, node in schemas.items():  # replace: each job stores the same schemas again
        store.store(name=name, node=node, provider=__package__, replace=True)
    OmegaConf.register_resolver("on_rank_zero", on_rank_zero, replace=True)


def config_dir() -> Path:
    """The checkout's conf/ when running from source, else the copy shipped inside the wheel."""
    package_dir = Path(__file__).resolve().parents[1]
    checkout = package_dir.parents[1] / "conf"
    return checkout if (checkout / "train.yaml").is_file() else package_dir / "conf"
