"""What a run leaves for people and tools to read: a metrics table and `metrics.json`."""

import json
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table


def print_metrics(metrics: Mapping[str, float], title: str = "Final metrics") -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in sorted(metrics):
        table.add_row(name, f"{metrics[name]:.6g}")
    Console().print(table)


def save_metrics(metrics: Mapping[str, float], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(metrics.items())), indent=2) + "\n")
