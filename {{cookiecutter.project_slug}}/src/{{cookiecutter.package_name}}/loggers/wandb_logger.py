"""Weights & Biases: Lightning's `WandbLogger`, online or offline as decided at run time.

It takes every argument of Lightning's logger and of `wandb.init`, so
`+logger.wandb.id=abc +logger.wandb.resume=allow` reaches W&B as it is.
"""

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lightning.pytorch import loggers
from lightning.pytorch.utilities import rank_zero_only

from ..errors import ConfigError
from . import overrides_name, sweep_group

log = logging.getLogger(__name__)

# How wandb words a verification that got no answer from the server (wandb 0.2x, 0.3x).
UNREACHABLE = ("Failed to execute API request", "An error occurred while checking")


def wandb_mode() -> str:
    """`WANDB_MODE` when set; else online with an API key or a `wandb login` that the server
    accepts, and offline without a key or when the server does not answer in time.

    The key is checked with the server once, within `WANDB_HTTP_TIMEOUT` seconds (10 unless
    set): without that, a key and no network would stall the run while wandb retries its
    connection for a minute and a half, then fail it.
    """
    if mode := os.environ.get("WANDB_MODE"):
        return mode
    import wandb

    try:
        if not wandb.login(prompt=False, verify=True):
            return "offline"  # no key, no login
    except wandb.errors.AuthenticationError as err:
        reason = str(err).splitlines()[0]
        if not any(text in reason for text in UNREACHABLE):  # a malformed or refused key
            raise ConfigError(
                f"W&B does not accept the API key ({reason}); run `wandb login --relogin`,"
                " or unset WANDB_API_KEY to log offline"
            ) from None
        host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
        log.warning(
            "W&B: %s did not answer within %s s; logging offline instead (upload later with"
            " `wandb sync`, or set WANDB_MODE=offline to skip the wait)",
            host,
            os.environ.get("WANDB_HTTP_TIMEOUT", 10),
        )
        return "offline"
    return "online"


class WandbLogger(loggers.WandbLogger):
    """Lightning's `WandbLogger`, offline without prompting when no login exists, named after
    the run's overrides and grouped by sweep unless `name` and `group` say otherwise.

    A run resumed from a checkpoint continues the W&B run that saved it (`resume_arguments`):
    online in place; offline, as a second offline run with the same id whose steps
    (`trainer/global_step`, `epoch`) go on from the first's, which `wandb sync` joins.
    """

    def __init__(
        self,
        name: str | None = None,
        group: str | None = None,
        tags: Iterable[str] = (),
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        mode = mode or wandb_mode()
        if mode == "offline":
            where = kwargs.get("save_dir", ".")
            log.info("W&B: logging offline into %s/wandb (no network needed)", where)
        super().__init__(
            name=name or overrides_name(),
            group=group or sweep_group(),
            tags=list(tags),
            mode=mode,
            **kwargs,
        )

    def resume_arguments(self) -> dict[str, Any]:
        return {"id": self.version, "resume": "allow"}

    @rank_zero_only  # the process that holds the run (the others hold a placeholder)
    def end_run(self) -> None:
        """Closes the W&B run, so each multirun job is complete before the next starts."""
        run = self.experiment
        sync_dir = Path(run.dir).parent if run.offline else None
        run.finish()
        if sync_dir is not None:
            print(f"W&B ran offline; upload this run later with: wandb sync {sync_dir}")
