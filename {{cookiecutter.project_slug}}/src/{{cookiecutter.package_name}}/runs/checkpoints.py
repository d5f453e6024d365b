"""A trained model from its checkpoint: the data and model settings it was trained with, and
what its data learnt from the training split.

Every checkpoint carries its run's resolved config (`RunRecord` puts it there), the network's
shapes (`SupervisedModule` hyperparameters) and the DataModule's `state_dict()` (Lightning
saves it): enough for the commands after training to rebuild the model with no overrides
typed again, for checkpoints of single runs, multiruns and sweeps alike, and wherever the file
was copied to. It also carries the data's fingerprint, which the commands after training
compare with the data they read, and each tracker's run, which a resumed training continues.
"""

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from ..errors import ConfigError
from . import DATA_FINGERPRINT, RUN_CONFIG, TRACKER_RUNS
from .checks import find_checkpoint

log = logging.getLogger(__name__)

# What the commands after training take from the checkpoint: `data` and `model`, by the keys
# that decide which data and network its weights belong to.
DECIDING_KEYS = {"data": ("_target_",), "model": ("_target_", "net._target_")}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, memory-mapped: the weights are read only where used."""
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def run_settings(ckpt_path: str, checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The resolved config of the run that saved the checkpoint: from the checkpoint itself,
    else from config_resolved.yaml in its run folder (<run>/checkpoints/<file>.ckpt)."""
    if RUN_CONFIG in checkpoint:
        return dict(checkpoint[RUN_CONFIG])
    saved = Path(ckpt_path).resolve().parent.parent / "config_resolved.yaml"
    if Path(ckpt_path).resolve().parent.name == "checkpoints" and saved.is_file():
        return OmegaConf.to_container(OmegaConf.load(saved))  # type: ignore[return-value]
    return None


def command_line_overrides() -> list[str]:
    """The job's own command-line overrides (none when the config was composed in-process)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def from_checkpoint(cfg: DictConfig) -> tuple[DictConfig, str, dict[str, Any]]:
    """(`cfg` with the checkpoint's data and model, the checkpoint file, its contents).

    `data` and `model` become the training run's, resolved; `data.<key>=` and `model.<key>=`
    given on the command line still apply on top (another CSV file, a larger batch). A
    `data=` or `model=` choice there must agree with the checkpoint: its weights are one model's.
    """
    ckpt_path = find_checkpoint(cfg.get("ckpt_path"), cfg.paths.log_dir, required=True)
    assert ckpt_path is not None  # required: find_checkpoint raised otherwise
    checkpoint = read_checkpoint(ckpt_path)
    settings = run_settings(ckpt_path, checkpoint)
    with open_dict(cfg):
        cfg.ckpt_path = ckpt_path  # the file itself, in this job's records too
        if settings is None:
            log.warning(
                "%s records no run settings: using the configured data and model", ckpt_path
            )
        else:
            apply_settings(cfg, settings, command_line_overrides())
            log.info("Data and model settings from %s", ckpt_path)
    from .fingerprint import data_change, data_fingerprint  # eval, predict...: not training

    if change := data_change(checkpoint.get(DATA_FINGERPRINT), data_fingerprint(cfg.data)):
        log.warning("The data has changed since %s was trained: %s", ckpt_path, change)
    return cfg, ckpt_path, checkpoint


def continue_tracker_runs(cfg: DictConfig, ckpt_path: str | None) -> None:
    """Points each logger of `cfg` at the run the checkpoint to resume from was logged to
    (what its `resume_arguments` kept: a run id, a folder), so the curves go on there; an
    argument given on the command line (`logger.<name>.<argument>=...`) wins. Without
    `ckpt_path`: the run's own last.ckpt, which a requeued job or a resumed sweep trial
    continues from."""
    path = Path(ckpt_path or Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    if not cfg.get("logger") or not path.is_file():
        return
    given = OverridesParser.create().parse_overrides(command_line_overrides())
    typed = {override.key_or_group for override in given}
    with open_dict(cfg):
        for key, arguments in (read_checkpoint(path).get(TRACKER_RUNS) or {}).items():
            if not cfg.logger.get(key):  # a tracker this run does not log to
                continue
            for name, value in arguments.items():
                if f"logger.{key}.{name}" not in typed:
                    cfg.logger[key][name] = value
            log.info("logger.%s continues the run of %s: %s", key, path, arguments)


def apply_settings(cfg: DictConfig, settings: Mapping[str, Any], overrides: list[str]) -> None:
    """Puts the trained `data` and `model` into `cfg`, then the overrides of their keys."""
    values = {}  # Hydra has composed the overrides into `cfg` already, typed and resolved
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if "." in key and key.partition(".")[0] in DECIDING_KEYS:  # data.<key>=, model.<key>=
            values[key] = OmegaConf.select(cfg, key)
        for deciding in DECIDING_KEYS.get(key, ()):  # a group choice: data=..., model=...
            given = OmegaConf.select(cfg[key], deciding, default=None)
            trained = OmegaConf.select(OmegaConf.create(settings[key]), deciding, default=None)
            if given != trained:
                raise ConfigError(
                    f"{override.input_line}: the checkpoint holds a model trained with"
                    f" {key}.{deciding}={trained}, and its data and model settings come from"
                    f" there; drop {override.input_line} (single keys such as data.path=..."
                    " still apply)"
                )
    for group in DECIDING_KEYS:
        cfg[group] = OmegaConf.create(settings[group])
    for key, value in values.items():
        OmegaConf.update(cfg, key, value, merge=False, force_add=True)


def trained_shapes(checkpoint: Mapping[str, Any], ckpt_path: str) -> tuple[str, list[int], int]:
    """(task, input_shape, num_outputs) the checkpoint's network was built for."""
    hparams = checkpoint.get("hyper_parameters") or {}
    if not {"task", "input_shape", "num_outputs"} <= set(hparams):
        raise ConfigError(
            f"ckpt_path={ckpt_path} does not say what network it holds (no task, input_shape"
            " and num_outputs in its hyperparameters); give a checkpoint saved by train.py"
        )
    return str(hparams["task"]), list(hparams["input_shape"]), int(hparams["num_outputs"])


def trained_data_state(checkpoint: Mapping[str, Any], datamodule: Any) -> Any:
    """The DataModule's `state_dict()` as the checkpoint saved it (None when it saved none)."""
    return checkpoint.get(type(datamodule).__qualname__) or None


def require_data_state(checkpoint: Mapping[str, Any], datamodule: Any, ckpt_path: str) -> Any:
    """`trained_data_state`, which new inputs cannot do without."""
    if (state := trained_data_state(checkpoint, datamodule)) is None:
        raise ConfigError(
            f"ckpt_path={ckpt_path} holds no state of {type(datamodule).__qualname__} (what the"
            " data learnt from the training split, saved by this version of train.py); train"
            " again, or predict a split instead (split=test)"
        )
    return state
