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
from dataclasses import dataclass, field
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
    input: str | None = None  # a CSV file or a folder of images to predict instead of a split


@dataclass
class ExportConf(TrainConf):
    format: str = "onnx"
    check_samples: int = 16
    atol: float = 1e-5
    rtol: float = 1e-4


# Merged after the option (values ??? here, so the option's values win): types and closes.
@dataclass
class DataConf:
    _target_: str = MISSING
    batch_size: int = MISSING
    num_workers: int = MISSING
    pin_memory: bool = MISSING


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


@dataclass
class TrainerConf:
    """Every `lightning.Trainer` argument with Lightning's default, merged before conf/trainer/.

    `callbacks` and `logger` are left out: they are groups of their own. tests/test_config.py
    checks this list against the installed Lightning.
    """

    _target_: str = "lightning.pytorch.Trainer"
    accelerator: str = "auto"
    strategy: str = "auto"
    devices: Any = "auto"  # an int, a list of device indices or a string
    num_nodes: int = 1
    precision: int | str | None = None
    fast_dev_run: int | bool = False
    max_epochs: int | None = None
    min_epochs: int | None = None
    max_steps: int = -1
    min_steps: int | None = None
    max_time: Any = None  # "DD:HH:MM:SS" or a dict of days, hours, ...
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    limit_test_batches: int | float | None = None
    limit_predict_batches: int | float | None = None
    overfit_batches: int | float = 0.0
    val_check_interval: int | float | str | None = None
    check_val_every_n_epoch: int | None = 1
    num_sanity_val_steps: int | None = None
    log_every_n_steps: int | None = None
    enable_checkpointing: bool | None = None
    enable_progress_bar: bool | None = None
    enable_model_summary: bool | None = None
    accumulate_grad_batches: int = 1
    gradient_clip_val: int | float | None = None
    gradient_clip_algorithm: str | None = None
    deterministic: bool | str | None = None
    benchmark: bool | None = None
    inference_mode: bool = True
    use_distributed_sampler: bool = True
    profiler: Any = None  # "simple", "advanced" or a `_target_` config
    detect_anomaly: bool = False
    barebones: bool = False
    plugins: Any = None
    sync_batchnorm: bool = False
    reload_dataloaders_every_n_epochs: int = 0
    default_root_dir: str | None = None
    enable_autolog_hparams: bool = True
    model_registry: str | None = None


# What configs may build (Hydra's execution whitelist): this package and the libraries it uses.
TRUSTED_TARGETS = [
    f"{__package__}.*",
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
    "export_schema": ExportConf,
    "data_schema": DataConf,
    "model_schema": ModelConf,
    "trainer_schema": TrainerConf,
}


def register_schemas() -> None:
    """Stores the schemas where the defaults lists of conf/*.yaml find them."""
    store = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        store.store(name=name, node=node, provider=__package__)


def on_rank_zero(value: Any, elsewhere: Any) -> Any:
    """`value` in the process of global rank 0, `elsewhere` in the others; a resolver.

    The other processes of a DDP run (started by Lightning, torchrun or srun) write no run
    folder and no log file of their own: rank 0 owns them.
    """
    ranks = (os.environ.get(name, "0") for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK"))
    return value if all(rank == "0" for rank in ranks) else elsewhere


def register_resolvers() -> None:
    """The `${name:...}` functions conf/*.yaml use beside OmegaConf's and Hydra's own."""
    OmegaConf.register_resolver("on_rank_zero", on_rank_zero, replace=True)


def config_dir() -> Path:
    """The checkout's conf/ when running from source, else the copy shipped inside the wheel."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir.parents[1] / "conf", package_dir / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no conf/train.yaml near {package_dir}; reinstall the project")
