"""The command line: `python train.py|eval.py|predict.py [overrides]` and the console scripts;
the other commands have a module of their own in this package.

Each entry point is one Hydra-decorated function: Hydra parses the command line and composes
conf/<name>.yaml once, checking keys and types against the schemas (config/); the task then
runs its own checks (runs/checks.py) and does the work. `reported` is the one error boundary: an
expected failure prints one `Error: ...` line and exits 1, and a job that fails before its work
starts leaves no run folder behind.

Only Hydra and OmegaConf are imported at the top, so `--help`, `--cfg job` and shell completion
stay fast; the training stack is imported when a job runs.
"""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from dotenv import load_dotenv
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ..config import TRUSTED_TARGETS, config_dir, register_configs
from ..errors import describe, exit_with, log_to_file, reported, wants_traceback
from ..runs import RUN_INFO
from .startup import hide_library_warnings, import_lightning

CONFIG_DIR = str(config_dir())


def hydra_task(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], Any]]:
    """A Hydra entry point for `task` on conf/<config_name>.yaml, inside the error boundary."""

    def decorate(task: Callable[[DictConfig], Any]) -> Callable[[], Any]:
        @hydra.main(
            config_path=CONFIG_DIR, config_name=config_name, execution_whitelist=TRUSTED_TARGETS
        )
        def job(cfg: DictConfig) -> Any:
            return run_job(task, cfg)

        def main() -> Any:
            load_dotenv(Path.cwd() / ".env")  # API keys and settings; variables already set win
            register_configs(config_name)
            return job()

        return reported(main)

    return decorate


def run_job(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Runs one job. A failure in a single run is reported here, as one line, and the job's
    own folder goes if the failure came before its work started; in a multirun it is left to
    the sweeper, which records the job as failed and goes on."""
    hydra_cfg = HydraConfig.get()
    register_configs(hydra_cfg.job.config_name)  # again: a launcher may run the job elsewhere
    import_lightning()
    hide_library_warnings()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    # Made for this job: only what Hydra has just written (the composed config and the log).
    new_folder = {p.name for p in run_dir.iterdir()} <= {".hydra", f"{hydra_cfg.job.name}.log"}
    try:
        return task(cfg)
    except Exception as error:
        if hydra_cfg.mode == RunMode.MULTIRUN or (message := describe(error)) is None:
            raise
        if new_folder and not (run_dir / RUN_INFO).exists():  # written once the work starts
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            log_to_file(message, error)  # the run's log keeps the traceback
        if wants_traceback():
            raise
        exit_with(message)


@hydra_task("train")
def train_main(cfg: DictConfig) -> float | None:
    """`train.py`: train, test, and return the value a multirun compares."""
    from ..multirun import best_value, run_trial
    from ..training import train

    metric = cfg.get("optimized_metric") or cfg.monitor.metric
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return run_trial(lambda: train(cfg), metric)  # NaN raises: the trial is marked failed
    return best_value(train(cfg), metric)


@hydra_task("eval")
def eval_main(cfg: DictConfig) -> dict[str, float]:
    """`eval.py`: test a checkpoint and print its metrics."""
    from ..evaluation import evaluate

    return evaluate(cfg)


@hydra_task("predict")
def predict_main(cfg: DictConfig) -> Path:
    """`predict.py`: write a checkpoint's predictions for new inputs or one split."""
    from ..prediction import predict

    return predict(cfg)
