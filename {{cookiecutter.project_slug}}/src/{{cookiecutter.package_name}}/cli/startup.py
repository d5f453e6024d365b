"""Start-up tuning of the command line's jobs: what makes `python train.py` start sooner, and
the library warnings its console leaves out."""

import gc
import logging
import re
import sys
import warnings

# Warnings of a library about its own code, which the user cannot act on: (category, the module
# warned from, the exact message). Each waits for the upstream fix named above it, and
# tests/test_cli.py fails once it no longer occurs, so that it goes when the library is fixed.
LIBRARY_WARNINGS: list[tuple[type[Warning], str, str]] = [
    # Lightning calls torch's deprecated LeafSpec(): Lightning-AI/pytorch-lightning#21326
    # (closed, yet lightning 2.6.6 still warns twice a run)
    (
        FutureWarning,
        "lightning.pytorch.utilities._pytree",
        "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec)"
        " and treespec.is_leaf()` instead.",
    ),
]


def hide_library_warnings() -> None:
    """Ignores each of `LIBRARY_WARNINGS`, from its own module only: the same warning raised by
    the project's code still shows."""
    for category, module, message in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", re.escape(message), category, re.escape(module) + "$")


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
        gc.disable()
        try:
            import lightning  # noqa: F401  (adds that handler)

            gc.freeze()
        finally:
            gc.enable()
    if logging.getLogger().handlers:
        logging.getLogger("lightning").handlers.clear()
