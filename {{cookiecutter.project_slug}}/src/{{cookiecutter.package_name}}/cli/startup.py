"""Start-up tuning of the command line's jobs: what makes `python train.py` start sooner."""

import gc
import logging
import sys


def import_lightning() -> None:
    """Imports Lightning (with torch, torchmetrics and torchvision) once per process.

    The import makes some 730,000 objects that live until the process ends. Python's cyclic
    garbage collector would walk them again and again while they are made, and once more at
    exit, freeing almost nothing: it is paused for the import, and everything tracked then (the
    import's objects and Hydra's config) is frozen out of its reach (`gc.freeze`). README.md,
    Benchmark, has what this saves.

    Lightning prints INFO lines through a console handler of its own; with Hydra's logging set
    up they reach the console and train.log through the root logger instead, once.
    """
    if "lightning" not in sys.modules:  # later jobs of a multirun: their objects stay collectable
        enabled = gc.isenabled()
        gc.disable()
        try:
            import lightning  # noqa: F401  (adds that handler)

            gc.freeze()
        finally:
            if enabled:
                gc.enable()
    if logging.getLogger().handlers:
        logging.getLogger("lightning").handlers.clear()
