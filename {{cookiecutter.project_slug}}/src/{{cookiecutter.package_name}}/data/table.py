"""Your own table: a CSV or Parquet file, one row per sample, read by pyarrow in batches.

The file is read once, batch by batch (Parquet row groups, CSV blocks), into a float32 file
of one row per sample that is memory-mapped, so a table larger than memory trains: the splits,
the statistics and the DataLoaders read it in pieces. Missing values and text columns follow one
policy, fitted on the training split only and saved in the checkpoint:

- a number column: a missing value becomes the training mean (then 0 once standardised);
- a text column (any column that is not numbers): one-hot over its `max_categories` most frequent
  values in the training split, plus one column for any other value or a missing one.
"""

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import torch
from torch import Tensor

from ..errors import DataError
from .datamodule import SPLITS, ArrayDataModule
from .dataset import ArrayDataset

CHUNK_ROWS = 2**16  # stored rows read at a time for the statistics


class CSVDataModule(ArrayDataModule):
    """Feature columns -> one float row per sample; the target column -> values or class labels.

    The file's format follows its suffix (`.parquet`, else CSV with a header row). For
    classification (`task="classification"`) the target may hold any labels, numbers or names;
    they become class indices in sorted order (`classes`). With `group_column`, rows of one
    group stay in one split and one fold. The columns read and the text columns' categories
    are saved with the statistics (`state_dict()`), so a table of new rows is read the same way.
    """

    def __init__(
        self,
        path: str,
        target_column: str,
        feature_columns: Sequence[str] | None = None,
        task: str = "regression",
        group_column: str | None = None,
        max_categories: int = 50,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self.target_column = target_column
        self.feature_columns = list(feature_columns) if feature_columns else None
        self.task = task
        self.group_column = group_column
        self.max_categories = max_categories
        self.columns: list[str] = []  # the training file's columns, once loaded
        self.features: list[str] = []  # the feature columns read, in order
        self.categories: dict[str, list[str]] = {}  # text column -> its training categories
        self.codes: dict[str, dict[str, int]] = {}  # text column -> value -> its stored code

    def setup(self, stage: str | None = None) -> None:
        if self.splits:  # Lightning calls setup once per stage; load once
            return
        stored, targets, groups = self.read(self.path, training=True)
        rows = self.split_rows(targets, groups)
        self.fitted = self.fit_rows(stored, rows["train"])
        self.sample_shape = stored.shape[1:]
        self.splits = {
            name: ArrayDataset(stored, targets[rows[name]], rows=rows[name]) for name in SPLITS
        }
        self._build_transforms()

    def read(self, path: Path, training: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(stored rows (N, F) float32, memory-mapped; targets; group codes or None). A text
        column is stored as codes (`self.codes`, -1: missing), the targets as values (N, 1) or
        class indices (N,)."""
        table = open_table(path, "data.path" if training else "input")
        if training:
            self._take_columns(table.schema)
        else:
            self._check_input_columns(f"input={path}", table.schema.names)
        extra = [self.target_column, self.group_column] if training else []
        columns = [*self.features, *filter(None, extra)]
        # Unlinked at once: nothing is left behind, whatever happens; closed with the memory map.
        stored = tempfile.TemporaryFile()  # noqa: SIM115
        targets, groups, count = [], [], 0
        labels: dict[str, int] = {}
        group_codes: dict[str, int] = {}
        # Decoded on pyarrow's threads, two batches ahead (not its default 16): memory holds a
        # few batches whatever the file's size.
        try:
            for batch in table.to_batches(columns=columns, batch_readahead=2):
                self.encode(batch, path, count).tofile(stored)
                count += batch.num_rows
                if not training:
                    continue
                target = batch.column(self.target_column)
                if self.task == "classification":
                    targets.append(text_codes(target, labels))
                else:
                    targets.append(numbers(target, self.target_column, path).astype(np.float32))
                if self.group_column:
                    groups.append(text_codes(batch.column(self.group_column), group_codes))
        except pa.ArrowInvalid as err:  # a ragged row further on, text in a column of numbers
            raise arrow_error(path, err) from None
        stored.flush()
        if not count:
            raise DataError(f"{path} holds a header but no rows; give a table with data rows")
        features = np.memmap(stored, np.float32, "r+", shape=(count, len(self.features)))
        if not training:
            return features, np.zeros(count, np.float32), None
        row_groups = np.concatenate(groups) if groups else None
        return features, self._targets(path, np.concatenate(targets), labels), row_groups

    def encode(self, batch: pa.RecordBatch, source: str | Path, first: int = 0) -> np.ndarray:
        """The feature columns of `batch` as stored rows (rows, F) float32: numbers (NaN where
        missing) and text columns' codes; `first` numbers its rows in messages."""
        block = np.empty((batch.num_rows, len(self.features)), np.float32)
        for j, name in enumerate(self.features):
            column = batch.column(name)
            if name in self.categories:
                block[:, j] = text_codes(column, self.codes.setdefault(name, {}))
            else:
                with np.errstate(over="ignore"):  # beyond float32: inf, refused below
                    block[:, j] = numbers(column, name, source)
        if np.isinf(block).any():  # NaN is a missing value; infinity is no number
            row, j = np.argwhere(np.isinf(block))[0]
            raise DataError(
                f"{source}: column {self.features[j]!r} holds {block[row, j]} in row"
                f" {first + row} (from 0), not a float32 number; fix or drop that row"
            )
        return block

    def _targets(self, path: Path, values: np.ndarray, labels: dict[str, int]) -> np.ndarray:
        missing = ~np.isfinite(values) if self.task != "classification" else values < 0
        if missing.any():
            raise DataError(
                f"{path}: the target column {self.target_column!r} is missing or infinite in"
                f" {missing.sum()} row(s), the first row {int(np.argmax(missing))} (from 0);"
                " drop the rows without a target"
            )
        if self.task != "classification":
            return values.reshape(-1, 1)
        self.classes = sorted(labels)
        rank = np.empty(len(labels), np.int64)
        rank[[labels[name] for name in self.classes]] = np.arange(len(labels))
        return rank[values]

    def _take_columns(self, schema: pa.Schema) -> None:
        names = schema.names
        group = [self.group_column] if self.group_column else []
        features = self.feature_columns or [
            c for c in names if c not in [self.target_column, *group]
        ]
        missing = [c for c in [*features, self.target_column, *group] if c not in names]
        if missing:
            raise DataError(
                f"{self.path} has no column {', '.join(map(repr, missing))}; its columns are"
                f" {names} (set data.target_column, data.feature_columns, data.group_column)"
            )
        self.categories = {c: [] for c in features if not is_number(schema.field(c).type)}
        self.columns, self.features = names, features

    def fit_rows(self, stored: np.ndarray, train: np.ndarray) -> dict[str, Any]:
        """The training rows' statistics, in one pass over the stored table: each number column's
        mean (what a missing value becomes) and standard deviation, each text column's most
        frequent categories."""
        present, total, squares = (np.zeros(len(self.features)) for _ in range(3))
        counts = {
            name: np.zeros(len(self.codes.get(name, {})) + 1, np.int64) for name in self.categories
        }
        is_train = np.zeros(len(stored), bool)
        is_train[train] = True
        text = [self.features.index(name) for name in self.categories]
        for start in range(0, len(stored), CHUNK_ROWS):
            chunk = stored[start : start + CHUNK_ROWS][is_train[start : start + CHUNK_ROWS]]
            values = chunk.astype(np.float64)  # float64 sums: exact over many rows
            missing = np.isnan(values)
            values[missing] = 0.0
            present += len(values) - missing.sum(0)
            total += values.sum(0)
            squares += np.einsum("ij,ij->j", values, values)
            for name, j in zip(self.categories, text, strict=True):
                counts[name] += np.bincount(
                    chunk[:, j].astype(np.int64) + 1, minlength=len(counts[name])
                )
        for name, count in counts.items():
            seen = list(self.codes.get(name, {}))  # in code order
            top = np.argsort(-count[1:], kind="stable")[: self.max_categories]
            self.categories[name] = sorted(seen[i] for i in top if count[i + 1])
        with np.errstate(invalid="ignore", divide="ignore"):  # a column with no value: 0 and 1
            average = total / present
            spread = np.sqrt(np.maximum(squares / present - average**2, 0))
        mean = torch.as_tensor(np.nan_to_num(average), dtype=torch.float32)
        std = torch.as_tensor(np.nan_to_num(spread, nan=1.0), dtype=torch.float32)
        mean[text], std[text] = 0.0, 1.0
        if not self.standardize:
            return {"fill": mean, "mean": torch.zeros_like(mean), "std": torch.ones_like(std)}
        return {"fill": mean, "mean": mean, "std": std}

    def transforms(self, fitted: Mapping[str, Any]) -> tuple["EncodeRows", "EncodeRows"]:
        lookups = {}
        for name, categories in self.categories.items():
            codes = self.codes.setdefault(name, {})
            for value in categories:  # new rows read later know the training categories
                codes.setdefault(value, len(codes))
            lookup = torch.zeros(len(codes) + 1, dtype=torch.int64)  # last: missing, 0: other
            lookup[[codes[v] for v in categories]] = torch.arange(1, len(categories) + 1)
            lookups[self.features.index(name)] = lookup
        transform = EncodeRows(fitted["fill"], fitted["mean"], fitted["std"], lookups)
        return transform, transform

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        saved = {"columns": self.columns, "features": self.features, "categories": self.categories}
        return state | saved if state else state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        trained = list(state_dict["features"])
        if self.features and self.features != trained:  # setup() came first
            raise DataError(
                f"{self.path}'s feature columns {self.features} are not the checkpoint's"
                f" {trained}; give a table with the columns the model was trained on"
            )
        self.columns, self.features = list(state_dict["columns"]), trained
        self.categories = {k: list(v) for k, v in state_dict.get("categories", {}).items()}
        super().load_state_dict(state_dict)

    def _check_input_columns(self, source: str, names: list[str]) -> None:
        missing = [c for c in self.features if c not in names]
        extra = [c for c in names if c not in self.columns]
        if missing or extra:
            problems = [f"lacks {', '.join(map(repr, missing))}"] if missing else []
            if extra:
                problems.append(f"has {', '.join(map(repr, extra))}, unknown to the model")
            raise DataError(
                f"{source} {' and '.join(problems)}: its columns must be the training"
                f" table's, {self.features} (the target column {self.target_column!r} may be"
                " there too)"
            )

    def read_inputs(self, path: Path) -> tuple[list[str], np.ndarray]:
        """The rows of a table with the training table's feature columns (its target column may
        be there too, and is not read); identifiers are the row numbers, from 0."""
        features, _, _ = self.read(path, training=False)
        return [str(i) for i in range(len(features))], features

    def read_rows(self, rows: list[dict[str, Any]], source: str) -> np.ndarray:
        """New rows as column -> value (a JSON request's), read as the rows of a file are."""
        self._check_input_columns(source, list(rows[0]) if rows else [])
        try:
            return self.encode(pa.RecordBatch.from_pylist(rows), source)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:  # a list or mixed kinds in a column
            raise DataError(f"{source}: {err}; give one number or text per column") from None


class EncodeRows:
    """Stored rows (..., F) -> the model's input: a missing number becomes its training mean,
    then (x - mean) / std; each text column's codes become one-hot columns (0: other/missing)."""

    def __init__(self, fill: Tensor, mean: Tensor, std: Tensor, lookups: dict[int, Tensor]) -> None:
        self.fill, self.mean, self.lookups = fill, mean, lookups
        self.std = torch.where(std > 0, std, 1.0)  # a constant column: 0 once centred
        self.numbers = [j for j in range(len(mean)) if j not in lookups]
        self.one_hot = {j: torch.arange(int(lookup.max()) + 1) for j, lookup in lookups.items()}

    def __call__(self, rows: Any) -> Tensor:
        x = torch.as_tensor(rows, dtype=torch.float32)
        x = (torch.where(x.isnan(), self.fill, x) - self.mean) / self.std
        parts = [x[..., self.numbers]]
        for j, lookup in self.lookups.items():
            codes = x[..., j].long()
            codes = torch.where((codes >= 0) & (codes < len(lookup) - 1), codes, len(lookup) - 1)
            parts.append((lookup[codes].unsqueeze(-1) == self.one_hot[j]).float())
        return torch.cat(parts, dim=-1)

    def __repr__(self) -> str:
        return f"EncodeRows(numbers={len(self.numbers)}, text={len(self.lookups)})"


def open_table(path: Path, key: str) -> ds.Dataset:
    """The file `key`=`path` as a pyarrow dataset: Parquet by its suffix, else CSV with a header
    row."""
    if not path.is_file():
        raise DataError(f"{key}={path} does not exist; give a CSV or Parquet file")
    # Pre-buffering would read all of a Parquet file's row groups at once.
    parquet = ds.ParquetFileFormat(
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False)
    )
    try:
        return ds.dataset(path, format=parquet if path.suffix == ".parquet" else "csv")
    except pa.ArrowInvalid as err:  # a ragged row in the first block, a file of another kind
        raise arrow_error(path, err) from None


def arrow_error(path: Path, err: pa.ArrowInvalid) -> DataError:
    """pyarrow's message, less the steps that led to it (`...: Invalid: <what was wrong>`)."""
    reason = str(err).splitlines()[0].rsplit("Invalid: ", 1)[-1]
    return DataError(f"{path}: {reason}; fix the file (a CSV row holds one value per column)")


def is_number(kind: pa.DataType) -> bool:
    kinds = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_null)
    return any(is_kind(kind) for is_kind in kinds)


def numbers(column: pa.Array, name: str, path: str | Path) -> np.ndarray:
    """The column as float64 values, NaN where missing."""
    try:
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowException:
        raise DataError(
            f"{path}: column {name!r} holds text where numbers were expected; use"
            " data.task=classification for a label column, or fix the value"
        ) from None


def text_codes(column: pa.Array, codes: dict[str, int]) -> np.ndarray:
    """Each value's code in `codes` (a new value gets the next code), -1 where missing."""
    encoded = column.cast(pa.string()).dictionary_encode()
    known = [codes.setdefault(value, len(codes)) for value in encoded.dictionary.to_pylist()]
    return np.array([*known, -1], np.int64)[encoded.indices.fill_null(-1).to_numpy()]
