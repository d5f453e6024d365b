"""Your own table: a CSV file with a header row, some feature columns and one target column."""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .datamodule import ArrayDataModule, Arrays


class CSVDataModule(ArrayDataModule):
    """Numeric feature columns -> float features; the target column -> values or class labels.

    For classification (`task="classification"`) the target may hold any labels, numbers or
    names; they become class indices in sorted order (`classes`). The columns read are saved
    with the statistics (`state_dict()`), so a table of new rows is checked against them.
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
        self.columns: list[str] = []  # the training file's header, once loaded
        self.features: list[str] = []  # the feature columns read, in order

    def load(self) -> dict[str, Arrays]:
        if not self.path.is_file():
            raise DataError(f"data.path={self.path} does not exist; point it at your CSV file")
        header, rows = read_table(self.path)
        features = self.feature_columns or [c for c in header if c != self.target_column]
        missing = [c for c in [*features, self.target_column] if c not in header]
        if missing:
            raise DataError(
                f"{self.path} has no column {', '.join(map(repr, missing))}; its columns are"
                f" {header} (set data.target_column and data.feature_columns)"
            )
        if self.features:  # load_state_dict() came first
            self._check_features(features, self.features)
        self.columns, self.features = header, features
        x = numbers(self.path, rows, features)
        if self.task == "classification":
            return {"train": (x, np.array([row[self.target_column] for row in rows]))}
        return {"train": (x, numbers(self.path, rows, [self.target_column]))}

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        return state | {"columns": self.columns, "features": self.features} if state else state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        trained = list(state_dict["features"])
        if self.features:  # setup() came first
            self._check_features(self.features, trained)
        self.columns, self.features = list(state_dict["columns"]), trained
        super().load_state_dict(state_dict)

    def _check_features(self, features: list[str], trained: list[str]) -> None:
        if features != trained:
            raise DataError(
                f"{self.path}'s feature columns {features} are not the checkpoint's {trained};"
                " give a table with the columns the model was trained on"
            )

    def read_inputs(self, path: Path) -> tuple[list[str], np.ndarray]:
        """The rows of a CSV file with the training table's feature columns (its target column
        may be there too, and is not read); identifiers are the row numbers, from 0."""
        if not path.is_file():
            raise DataError(f"input={path} does not exist; give a CSV file of new rows")
        header, rows = read_table(path)
        return [str(i) for i in range(len(rows))], self.read_rows(header, rows, f"input={path}")

    def read_rows(self, header: list[str], rows: list[dict[str, Any]], source: str) -> np.ndarray:
        """New rows (column -> value: a CSV file's, a JSON request's) as features, checked."""
        missing = [c for c in self.features if c not in header]
        extra = [c for c in header if c not in self.columns]
        if missing or extra:
            problems = [f"lacks {', '.join(map(repr, missing))}"] * bool(missing)
            problems += [f"has {', '.join(map(repr, extra))}, unknown to the model"] * bool(extra)
            raise DataError(
                f"{source} {' and '.join(problems)}: its columns must be the training"
                f" table's, {self.features} (the target column {self.target_column!r} may be"
                " there too)"
            )
        if not rows:
            raise DataError(f"{source} holds a header but no rows to predict")
        return numbers(source, rows, self.features)


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a CSV file."""
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def numbers(source: str | Path, rows: list[dict[str, Any]], columns: list[str]) -> np.ndarray:
    """The float32 array (rows, columns) of `columns`; a cell that is no number is named."""
    values = np.empty((len(rows), len(columns)), np.float32)
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            try:
                values[i, j] = float(row[column])
            except (TypeError, ValueError):
                raise DataError(
                    f"{source}: column {column!r} holds {row[column]!r}, not a number; the"
                    " features are numbers (data.feature_columns chooses them; a label column"
                    " is a target of data.task=classification)"
                ) from None
            if not np.isfinite(values[i, j]):  # float() reads "nan", "inf" and too large numbers
                raise DataError(
                    f"{source}: column {column!r} holds {row[column]!r} on line {i + 2}, not a"
                    " finite number; fill in or drop the rows without a value"
                )
    return values
