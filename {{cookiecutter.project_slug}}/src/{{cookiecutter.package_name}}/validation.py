"""Config validation: every mistake becomes one `ConfigError` that names the key and the fix."""

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from .errors import ConfigError
from .schemas import OPEN_GROUPS, TrainSchema


def validate_config(cfg: DictConfig, check_values: bool = True) -> None:
    """Checks `cfg` against the schemas: known keys, value types, no required value left unset,
    and (`check_values`) values in their valid ranges."""
    schema = OmegaConf.structured(TrainSchema)
    OmegaConf.set_struct(schema, False)  # other groups and top-level keys are free-form
    OmegaConf.set_struct(schema.trainer, True)  # every Trainer argument is known: typos fail
    for group in OPEN_GROUPS:  # options of these groups may add keys of their own
        OmegaConf.set_struct(OmegaConf.select(schema, group), False)
    try:
        OmegaConf.merge(schema, OmegaConf.to_container(cfg, resolve=False))
    except OmegaConfBaseException as err:
        raise ConfigError(describe(err, schema)) from None
    missing = missing_keys(cfg)
    if missing:
        raise ConfigError(
            f"{missing[0]} has no value (it is ??? in the config); set it, e.g. {missing[0]}=..."
        )
    if check_values:
        check_ranges(cfg)


def missing_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Keys left at ??? (required), without resolving interpolations that need a running job."""
    found = []
    for key in map(str, node):  # config keys are strings; DictConfig types them more broadly
        full_key = f"{prefix}{key}"
        if OmegaConf.is_missing(node, key):
            found.append(full_key)
        elif not OmegaConf.is_interpolation(node, key) and isinstance(node[key], DictConfig):
            found += missing_keys(node[key], f"{full_key}.")
    return found


def check_ranges(cfg: DictConfig) -> None:
    """Values of the right type that still cannot work."""
    lr = OmegaConf.select(cfg, "model.optimizer.lr", default=None)
    if isinstance(lr, int | float) and lr <= 0:
        raise ConfigError(f"model.optimizer.lr={lr} must be positive, e.g. model.optimizer.lr=0.01")
    batch_size = OmegaConf.select(cfg, "data.batch_size", default=None)
    if isinstance(batch_size, int) and batch_size < 1:
        raise ConfigError(f"data.batch_size={batch_size} must be at least 1, e.g. 64")
    epochs = OmegaConf.select(cfg, "trainer.max_epochs", default=None)
    if isinstance(epochs, int) and epochs < -1:
        raise ConfigError(f"trainer.max_epochs={epochs} must be -1 (no limit) or more")


def describe(err: OmegaConfBaseException, schema: DictConfig | None = None) -> str:
    """One line for an OmegaConf error: the key, what is wrong with it, and how to fix it."""
    key = getattr(err, "full_key", None) or getattr(err, "key", None) or "?"
    reason = str(err).splitlines()[0]
    if isinstance(err, MissingMandatoryValue):
        return f"{key} has no value (it is ??? in the config); set it, e.g. {key}=..."
    if isinstance(err, ValidationError):
        return f"{key}: {reason}; give it a value of the right type"
    if isinstance(err, ConfigKeyError | ConfigAttributeError):
        return unknown_key_message(str(key), schema)
    return f"{key}: {reason}"


def unknown_key_message(key: str, schema: DictConfig | None) -> str:
    parent, _, name = key.rpartition(".")
    known: Iterable[object] = []  # keys, as DictConfig types them
    if schema is not None:
        node = OmegaConf.select(schema, parent) if parent else schema
        known = node.keys() if isinstance(node, DictConfig) else []
    trainer_args = OmegaConf.structured(TrainSchema).trainer.keys()
    if parent == "trainer" and name in trainer_args:
        return (
            f"{key} is a Trainer argument that conf/trainer/ does not set; add it with"
            f" +{key}=... (the + adds a key)"
        )
    if parent == "trainer":
        known = trainer_args  # suggest from every Trainer argument, not only the configured ones
    guess = difflib.get_close_matches(name, [str(k) for k in known], n=1)
    hint = f"did you mean {parent + '.' if parent else ''}{guess[0]}? " if guess else ""
    if parent == "trainer":  # closed: the Trainer takes no argument Lightning does not define
        return f"{key} is not a lightning.Trainer argument; {hint}fix the spelling"
    return (
        f"{key} is not a known setting; {hint}fix the spelling, or add a new key on purpose"
        f" with +{key}=..."
    )


def check_overrides(
    overrides: Sequence[str], config_dir: Path, config_name: str = "train"
) -> DictConfig:
    """Composes the config as `train.py` would and validates it; returns it.

    Runs before Hydra starts the job, so a bad override fails with one line and leaves no run
    directory behind. In a sweep, what would break every job (a typo, a wrong type, a bad value
    outside the swept keys) fails here; a swept value that breaks only its own job (`lr=-1`) is
    left to that job, which the sweep records as failed and goes past.
    """
    base, sweeps = _override_sets(overrides)
    cfg = _compose(base, config_dir, config_name)
    validate_config(cfg)
    for candidate in sweeps:
        validate_config(_compose(candidate, config_dir, config_name), check_values=False)
    return cfg


def _compose(overrides: list[str], config_dir: Path, config_name: str) -> DictConfig:
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            return compose(config_name=config_name, overrides=overrides)
    except MissingConfigException as err:
        raise ConfigError(_missing_option_message(err, overrides, config_dir)) from None
    except ConfigCompositionException as err:
        cause = err.__cause__
        if isinstance(cause, OmegaConfBaseException):
            raise ConfigError(describe(cause, _schema_for_hints(config_dir))) from None
        raise ConfigError(str(err).splitlines()[0]) from None


def _override_sets(overrides: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """The plain overrides, and those plus each value of each enumerable sweep (`seed=1,2`).

    One value at a time, not every combination: a grid of 10 x 10 x 10 jobs costs 30 checks.
    """
    job = [o for o in overrides if not o.startswith(("hydra.", "hydra/", "+hydra", "~hydra"))]
    parsed = OverridesParser.create().parse_overrides(job)
    base = [line for line, o in zip(job, parsed, strict=True) if not o.is_sweep_override()]
    sets: list[list[str]] = []
    for override in parsed:
        if not override.is_sweep_override():
            continue
        try:
            values = list(override.sweep_string_iterator())
        except Exception:  # interval() and other sweeps a sweeper samples from: checked per job
            continue
        sets += [[*base, f"{override.get_key_element()}={value}"] for value in values]
    return base, sets


def _missing_option_message(
    err: MissingConfigException, overrides: Sequence[str], config_dir: Path
) -> str:
    for override in overrides:
        group, sep, option = override.lstrip("+~").partition("=")
        folder = config_dir / group
        unknown = not (folder / f"{option}.yaml").exists()
        if sep and "." not in group and folder.is_dir() and unknown:
            options = sorted(p.stem for p in folder.glob("*.yaml"))
            return f"{group}={option} is not an option; use one of: {', '.join(options)}"
    return str(err).splitlines()[0]


def _schema_for_hints(config_dir: Path) -> DictConfig:
    """The default composed config, whose keys are the candidates for "did you mean"."""
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="train")
