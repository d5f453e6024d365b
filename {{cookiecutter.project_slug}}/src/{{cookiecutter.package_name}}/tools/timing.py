"""When a run's first training step was done, for scripts/benchmark.py's time to the first step."""

import json
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback


class FirstStepClock(Callback):
    """Writes `{"first_step": time.time(), "cpu": time.process_time()}` (when, and the CPU
    seconds the process had used by then) to `path` once the first training batch is done.

    The benchmark adds it on the command line, so `python train.py` itself is what is timed:
    `+callbacks.clock._target_=<package>.tools.timing.FirstStepClock +callbacks.clock.path=FILE`.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.done = False

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if not self.done:  # after the optimizer step of batch 0
            self.done = True
            self.path.write_text(
                json.dumps({"first_step": time.time(), "cpu": time.process_time()})
            )
