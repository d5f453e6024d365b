"""When a training run's first step was done, recorded from outside the project's code.

Lightning builds every `Trainer` with the callbacks that installed packages offer through the
`lightning.pytorch.callbacks_factory` entry point group (Lightning's "Entry Points" page).
`register(folder)` writes the metadata of such a package into `folder`; a process that has
`folder` and this file's folder on its PYTHONPATH, and FIRST_STEP_CLOCK=FILE in its environment,
gets a `FirstStepClock` writing FILE. So the benchmark times `python train.py` as users run it,
with no override on its command line and no change to the project; without FIRST_STEP_CLOCK
the factory offers nothing.
"""

import json
import os
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

ENV = "FIRST_STEP_CLOCK"


class FirstStepClock(Callback):
    """Writes `{"first_step": time.time(), "cpu": time.process_time()}` (when, and the CPU
    seconds the process had used by then) to `path` once the first training batch is done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = False

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if not self.done:  # after the optimizer step of batch 0
            self.done = True
            self.path.write_text(
                json.dumps({"first_step": time.time(), "cpu": time.process_time()})
            )


def callbacks() -> list[Callback]:
    """The entry point: a clock when FIRST_STEP_CLOCK names a file, else nothing."""
    path = os.environ.get(ENV)
    return [FirstStepClock(Path(path))] if path else []


def register(folder: Path) -> None:
    """Writes into `folder` the metadata of a package whose entry point is `callbacks`."""
    dist_info = folder / "first_step_clock-1.0.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: first-step-clock\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[lightning.pytorch.callbacks_factory]\nfirst_step_clock = first_step_clock:callbacks\n"
    )
