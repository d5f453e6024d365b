"""k-fold cross-validation: data.num_folds and data.fold, and the summary over the folds."""

import statistics

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.build import build_node
from {{ cookiecutter.package_name }}.data.regression import SyntheticRegressionDataModule
from {{ cookiecutter.package_name }}.data.table import CSVDataModule
from {{ cookiecutter.package_name }}.errors import ConfigError, DataError
from {{ cookiecutter.package_name }}.tools.folds import summarise


def rows(features: np.ndarray) -> set[tuple[float, ...]]:
    return {tuple(row) for row in features}


def test_each_fold_validates_on_its_own_part_of_the_samples_left_after_the_test_split() -> None:
    folds = []
    for fold in range(5):
        dm = SyntheticRegressionDataModule(num_samples=503, num_folds=5, fold=fold)
        dm.setup()
        folds.append(dm)
    tests = [rows(dm.test_set.features) for dm in folds]
    assert all(test == tests[0] for test in tests) and len(tests[0]) == 50  # one test split
    vals = [rows(dm.val_set.features) for dm in folds]
    assert sorted(len(v) for v in vals) == [90, 90, 91, 91, 91]  # the 453 others, in 5 folds
    assert set.union(*vals) == rows(folds[0].problem.features) - tests[0]
    assert sum(len(v) for v in vals) == len(set.union(*vals))  # no sample in two folds
    for dm, val in zip(folds, vals, strict=True):
        assert not rows(dm.train_set.features) & val and not rows(dm.train_set.features) & tests[0]
        assert len(dm.train_set) + len(val) == 453


def test_without_folds_the_split_is_unchanged() -> None:
    plain, folded = (
        SyntheticRegressionDataModule(num_samples=200, **k) for k in ({}, {"num_folds": 4})
    )
    plain.setup()
    folded.setup()
    np.testing.assert_array_equal(plain.test_set.features, folded.test_set.features)
    assert len(plain.val_set) == 20 and len(folded.val_set) == 45


def test_a_data_set_with_its_own_validation_split_has_no_folds() -> None:
    class GivenSplits(SyntheticRegressionDataModule):
        def load(self):
            x, y = self.problem.features, self.problem.targets
            return {"train": (x[:100], y[:100]), "val": (x[100:150], y[100:150])}

    with pytest.raises(DataError, match="has its own validation split"):
        GivenSplits(num_samples=200, num_folds=3).setup()


@pytest.mark.parametrize("overrides", [["data.num_folds=5", "data.fold=5"], ["data.num_folds=1"]])
def test_fold_settings_are_checked(make_config, overrides: list[str]) -> None:
    with pytest.raises(ConfigError, match="num_folds must be at least 2 and the fold one of"):
        build_node("data", make_config(*overrides).data)


def test_the_summary_is_the_mean_and_sample_standard_deviation_over_folds() -> None:
    group = {0: {"val/loss": 1.0, "test/r2": 0.5}, 1: {"val/loss": 3.0, "test/r2": 0.7}, 2: None}
    (loss, r2) = sorted(summarise(group), key=lambda row: row[0] != "val/loss")
    assert loss == ("val/loss", 2.0, statistics.stdev([1.0, 3.0]), [1.0, 3.0])  # fold 2 failed
    assert r2[1] == pytest.approx(0.6)
    assert summarise({0: {"val/loss": 1.0}})[0][2] is None  # one fold: no spread


class Labelled(SyntheticRegressionDataModule):
    """The synthetic features with a class label each: three frequent classes and a rare one."""

    task = "classification"

    def load(self):
        labels = np.array(["rare" if i % 40 == 0 else "abc"[i % 3] for i in range(self.n)])
        return {"train": (self.problem.features, labels)}

    def __init__(self, **kwargs) -> None:
        super().__init__(num_samples=400, **kwargs)
        self.n = 400


def test_stratified_folds_keep_every_class_in_every_fold() -> None:
    for fold in range(5):
        dm = Labelled(num_folds=5, fold=fold)
        dm.setup()
        for split in ("train", "val", "test"):  # 10 rare samples: 1 in test, 2 in each fold
            assert set(dm.split(split).targets.tolist()) == {0, 1, 2, 3}, (fold, split)


def test_grouped_folds_never_split_a_group(tmp_path) -> None:
    groups = np.random.default_rng(0).integers(0, 30, 500)
    lines = ["x,patient,y", *(f"{i},p{g},{i % 7}" for i, g in enumerate(groups))]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    seen = []
    for fold in range(4):
        dm = CSVDataModule(
            path=str(tmp_path / "t.csv"),
            target_column="y",
            group_column="patient",
            num_folds=4,
            fold=fold,
        )
        dm.setup()
        sides = {name: set(groups[dm.split(name).rows]) for name in ("train", "val", "test")}
        assert not sides["train"] & sides["val"]
        assert not sides["test"] & (sides["train"] | sides["val"])
        assert dm.features == ["x"]  # the group column is no feature
        seen.append(sides["val"])
    assert sum(map(len, seen)) == len(set.union(*seen))  # each group validates in one fold


def test_one_group_is_refused(tmp_path) -> None:
    (tmp_path / "t.csv").write_text("x,g,y\n" + "".join(f"{i},same,{i}\n" for i in range(50)))
    with pytest.raises(DataError, match="data.group_column holds one group for all 50 samples"):
        CSVDataModule(path=str(tmp_path / "t.csv"), target_column="y", group_column="g").setup()
