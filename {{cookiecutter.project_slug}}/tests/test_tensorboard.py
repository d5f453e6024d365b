"""logger=tensorboard: the events and the HParams tab, read back with TensorBoard's reader."""

from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.metadata import EXPERIMENT_TAG, SESSION_START_INFO_TAG
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from {{ cookiecutter.package_name }}.tools.plots import read_curves
from {{ cookiecutter.package_name }}.training import train

from .test_tracking import assert_png, offline_env, run_train


def test_tensorboard_events_hparams_csv_and_plot(make_config, tmp_path: Path) -> None:
    metrics = train(make_config("logger=tensorboard", "trainer.max_epochs=2", "callbacks=none"))
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert {"train/loss", "val/loss", "val/r2", "test/r2"} <= set(events.Tags()["scalars"])
    tensorboard_val = [event.value for event in events.Scalars("val/loss")]
    epochs, csv_val = read_curves(tmp_path / "csv" / "metrics.csv")["val/loss"]
    assert epochs == [0, 1]
    assert csv_val == pytest.approx(tensorboard_val, rel=1e-6)  # one point per epoch, no extra
    assert_png(tmp_path / "metrics.png")

    # The HParams tab: the hyperparameters of the run's session, and the final metrics logged
    # with them; no experiment summary, so TensorBoard puts first what differs between runs.
    plugin = {
        tag: HParamsPluginData.FromString(content)
        for tag, content in events.PluginTagToContent("hparams").items()
    }
    assert EXPERIMENT_TAG not in plugin
    assert {f"hp/{name}" for name in metrics} <= set(events.Tags()["scalars"])
    hparams = plugin[SESSION_START_INFO_TAG].session_start_info.hparams
    assert hparams["model/optimizer/lr"].number_value == 0.1
    assert hparams["model/optimizer/class"].string_value == "SGD"  # its _target_, readable
    # What a person compares: no Hydra plumbing, paths, or groups the run left as they were.
    assert not [key for key in hparams if "_target_" in key or key.endswith(("path", "dir"))]
    assert {key.split("/")[0] for key in hparams} == {"seed", "model", "data", "run_info"}
    assert hparams["run_info/params_total"].number_value == 9  # nn.Linear(8, 1)
    [final] = events.Scalars("hp/test/r2")
    assert final.value == pytest.approx(metrics["test/r2"], rel=1e-6)


@pytest.mark.slow
def test_a_run_resumed_from_its_checkpoint_writes_on_into_the_same_tensorboard_run(
    tmp_path: Path,
) -> None:
    env = offline_env(tmp_path)
    run_train(tmp_path, env, "logger=tensorboard", "trainer.max_epochs=2")
    run_train(tmp_path, env, "logger=tensorboard", "ckpt_path=last", "trainer.max_epochs=4")
    [folder] = (tmp_path / "logs" / "runs").glob("*/tensorboard")  # the first run's, only
    events = EventAccumulator(str(folder))
    events.Reload()
    assert [int(event.value) for event in events.Scalars("epoch")][-1] == 4  # ended at epoch 4
    steps = [event.step for event in events.Scalars("val/loss")]
    assert len(steps) == 4 and steps == sorted(set(steps))  # all four epochs, one curve
