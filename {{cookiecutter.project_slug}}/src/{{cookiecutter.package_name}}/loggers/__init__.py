"""The experiment loggers of conf/logger/: Lightning's own, with the run's name and tags set
and the decisions made at run time. CSV is here; each other tracker has a module of its own in
this package, which its config names. Every tracker gets the same hyperparameters, those a
person compares runs by (`compared_hyperparameters`).

A tracker that works differently says so with a method Lightning's loggers do not have:
`log_final_results(hyperparameters, metrics, step)` records a run's final metrics its own way
(`RunRecord.log_results`), `end_run()` closes its run once the run is over (`end_runs`), and
`resume_arguments()` gives the keyword arguments of its config that reopen its run after a
restart (every checkpoint keeps them).

Lightning imports the tracking packages only when a logger starts, so a run that does not
select them never pays their import time.
"""

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from lightning.pytorch import loggers
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import OmegaConf


def end_runs(run_loggers: Iterable[Any]) -> None:
    """Lets each logger that needs it close its run, so each multirun job is complete before
    the next starts."""
    for logger in run_loggers:
        if hasattr(logger, "end_run"):
            logger.end_run()


def overrides_name() -> str | None:
    """The run's overrides as its name in the trackers (`model=mlp,seed=2`: Hydra's
    hydra.job.override_dirname), else the name of its folder (its start time)."""
    if not HydraConfig.initialized():
        return None
    job = HydraConfig.get()
    return job.job.override_dirname or Path(job.runtime.output_dir).name


# Keys no one compares runs by: Hydra's instructions, where files are, how fast data loads.
HIDDEN_KEYS = {"_partial_", "_convert_", "_recursive_", "monitor"}
HIDDEN_KEYS |= {"num_workers", "pin_memory", "download"}
COMPARED_GROUPS = ("seed", "model", "data")  # always; other keys when the run overrides them
LEFT_OUT_GROUPS = {"logger", "hydra", "paths", "tags", "ckpt_path"}


def compared_hyperparameters(config: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """What a person compares runs by, for every tracker: the seed, the model (network,
    optimizer, scheduler) and the data, and any other key the run overrides
    (`trainer.max_epochs=40`). A `_target_` shows as its class's name (`model/optimizer/class:
    AdamW`); paths, unset values and loading plumbing are left out: the data's fingerprint in
    run_info.json says which data it was."""
    full = OmegaConf.create(dict(config))
    chosen = OmegaConf.masked_copy(full, [key for key in COMPARED_GROUPS if key in full])
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        value = OmegaConf.select(full, key, default=None)
        left_out = key.split(".")[0] in (*COMPARED_GROUPS, *LEFT_OUT_GROUPS)
        if not (left_out or value is None or OmegaConf.is_config(value)):  # a value, not a group
            OmegaConf.update(chosen, key, value, force_add=True)
    return readable(OmegaConf.to_container(chosen))


def readable(node: Any) -> Any:
    if not isinstance(node, Mapping):
        return node
    shown: dict[str, Any] = {}
    for key, value in node.items():
        if key == "_target_":
            shown["class"] = str(value).rsplit(".", 1)[-1]
        elif not (value is None or key in HIDDEN_KEYS or key.endswith(("path", "dir"))):
            shown[key] = readable(value)
    return shown


def sweep_group() -> str | None:
    """The multirun's folder name, so every job of one sweep lands in the same group of runs."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(HydraConfig.get().sweep.dir).name


class CSVLogger(loggers.CSVLogger):
    """Lightning's `CSVLogger`, keeping the rows of a run that continues in its own folder.

    A requeued job (or `ckpt_path=last` with the same `hydra.run.dir`) opens the folder again;
    Lightning's logger would then delete metrics.csv and keep only the epochs trained after
    the restart. Here the new rows are added after the old ones, under the same header.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows_restored = False

    @property
    def experiment(self) -> Any:
        if not self.rows_restored:
            self.rows_restored = True
            path = Path(self.log_dir) / "metrics.csv"
            kept = path.read_text() if path.is_file() else ""
            writer = super().experiment  # deletes the file it finds, on rank 0
            if kept and getattr(rank_zero_only, "rank", 0) == 0:  # other ranks write no file
                path.write_text(kept)
                writer.metrics_keys = next(csv.reader(io.StringIO(kept)))
        return super().experiment
