"""Your own table: a CSV file with a header row, some feature columns and one target column."""

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .datamodule import ArrayDataModule


class CSVDataModule(ArrayDataModule):
    """Numeric feature columns -> float features; the target column -> values or class indices.

    For classification the target may hold any labels (numbers or names): they become class
    indices in sorted order, kept in `classes`.
    """

    def __init__(
        self,
        path: str,
        target_column: str,
        feature_columns: Sequence[str] | None = None,
        task: str = "regression",
        num_features: int = 1,
        num_outputs: int = 1,
        **kwargs,
    ) -> None:
        super().__init__(task=task, num_features=num_features, num_outputs=num_outputs, **kwargs)
        self.path = Path(path)
        self.target_column = target_column
        self.feature_columns = list(feature_columns) if feature_columns else None
        self.classes: list[str] = []

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.path.is_file():
            raise ConfigError(f"data.path={self.path} does not exist; point it at your CSV file")
        with self.path.open(newline="") as file:
            rows = list(csv.DictReader(file))
        header = list(rows[0]) if rows else []
        features = self.feature_columns or [c for c in header if c != self.target_column]
        missing = [c for c in [*features, self.target_column] if c not in header]
        if missing:
            raise ConfigError(
                f"{self.path} has no column {', '.join(map(repr, missing))}; its columns are"
                f" {header} (set data.target_column and data.feature_columns)"
            )
        if len(features) != self.num_features:
            raise ConfigError(
                f"data.num_features={self.num_features} but {len(features)} feature columns are"
                f" used ({features}); set data.num_features={len(features)}"
            )
        x = np.array([[self._number(row, c) for c in features] for row in rows], np.float32)
        labels = [row[self.target_column] for row in rows]
        if self.task == "classification":
            self.classes = sorted(set(labels))
            index = {label: i for i, label in enumerate(self.classes)}
            return x, np.array([index[label] for label in labels], dtype=np.int64)
        return x, np.array([[self._number(row, self.target_column)] for row in rows], np.float32)

    def _number(self, row: dict[str, str], column: str) -> float:
        try:
            return float(row[column])
        except (TypeError, ValueError):
            raise ConfigError(
                f"{self.path}: column {column!r} holds {row[column]!r}, not a number; drop it"
                " from data.feature_columns (or use task=classification for a label column)"
            ) from None
