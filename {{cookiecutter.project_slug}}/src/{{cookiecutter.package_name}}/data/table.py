"""Your own table: a CSV file with a header row, some feature columns and one target column."""

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from .datamodule import ArrayDataModule, Arrays


class CSVDataModule(ArrayDataModule):
    """Numeric feature columns -> float features; the target column -> values or class labels.

    For classification (`task="classification"`) the target may hold any labels, numbers or
    names; they become class indices in sorted order (`classes`).
    """

    def __init__(
        self,
        path: str,
        target_column: str,
        feature_columns: Sequence[str] | None = None,
        task: str = "regression",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self.target_column = target_column
        self.feature_columns = list(feature_columns) if feature_columns else None
        self.task = task

    def load(self) -> dict[str, Arrays]:
        if not self.path.is_file():
            raise DataError(f"data.path={self.path} does not exist; point it at your CSV file")
        with self.path.open(newline="") as file:
            rows = list(csv.DictReader(file))
        header = list(rows[0]) if rows else []
        features = self.feature_columns or [c for c in header if c != self.target_column]
        missing = [c for c in [*features, self.target_column] if c not in header]
        if missing:
            raise DataError(
                f"{self.path} has no column {', '.join(map(repr, missing))}; its columns are"
                f" {header} (set data.target_column and data.feature_columns)"
            )
        x = np.array([[self._number(rows, i, c) for c in features] for i in range(len(rows))])
        if self.task == "classification":
            return {"train": (x, np.array([row[self.target_column] for row in rows]))}
        y = np.array([[self._number(rows, i, self.target_column)] for i in range(len(rows))])
        return {"train": (x, y)}

    def _number(self, rows: list[dict[str, str]], i: int, column: str) -> np.float32:
        text = rows[i][column]
        try:
            value = np.float32(text)
        except (TypeError, ValueError):
            raise DataError(
                f"{self.path}: column {column!r} holds {text!r}, not a number; drop it"
                " from data.feature_columns (or use data.task=classification for a label column)"
            ) from None
        if not np.isfinite(value):  # float() reads "nan", "inf" and too large numbers
            raise DataError(
                f"{self.path}: column {column!r} holds {text!r} on line {i + 2}, not a finite"
                " number; fill in or drop the rows without a value"
            )
        return value
