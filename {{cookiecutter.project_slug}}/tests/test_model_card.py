"""MODEL_CARD.md and the data fingerprint: written at the end of training, read back with
huggingface_hub (offline), updated by eval.py, which says when the data has changed since."""

import json
import os
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

from {{ cookiecutter.package_name }}.evaluation import evaluate
from {{ cookiecutter.package_name }}.runs.fingerprint import data_change, data_fingerprint
from {{ cookiecutter.package_name }}.training import train

from .conftest import compose_config
from .test_table import write_table


def results(card: ModelCard, command: str) -> dict[str, float]:
    """The metrics of `command`'s model-index result, as huggingface_hub reads them."""
    assert isinstance(card.data, ModelCardData)
    found = card.data.eval_results or []
    return {r.metric_type: r.metric_value for r in found if r.source_name == command}


def test_model_card_holds_the_metrics_and_the_data_fingerprint(tmp_path: Path, caplog) -> None:
    table = write_table(tmp_path / "table.csv")
    csv = ("data=csv", f"data.path={table}", "data.target_column=y", "data.feature_columns=[a,b]")
    run_dir = tmp_path / "run"
    train(compose_config(run_dir, *csv, "trainer.max_epochs=2"))
    card = ModelCard.load(run_dir / "MODEL_CARD.md")
    trained = json.loads((run_dir / "metrics.json").read_text())
    assert results(card, "train.py") == trained
    info = json.loads((run_dir / "run_info.json").read_text())
    assert card.data.to_dict()["data_fingerprint"] == info["data_fingerprint"]
    assert info["data_fingerprint"]["files"] == 1
    assert "## Intended use" in card.text
    hyperparameters = card.data.to_dict()["hyperparameters"]
    assert hyperparameters["model"]["optimizer"]["class"] == "SGD"
    assert "path" not in hyperparameters["data"]  # the fingerprint says which data

    with table.open("a") as file:  # new rows since training
        file.write("0.5,0.5,0.0,1.5,down\n")
    last = run_dir / "checkpoints" / "last.ckpt"
    evaluated = evaluate(compose_config(tmp_path / "eval", f"ckpt_path={last}"))
    assert "The data has changed since" in caplog.text  # a row more: every hash differs
    assert "1 files of" in caplog.text
    card = ModelCard.load(run_dir / "MODEL_CARD.md")  # the trained run's card, updated
    assert results(card, "eval.py") == json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert results(card, "eval.py") == evaluated
    assert results(card, "train.py") == trained


def test_the_fingerprint_sees_new_contents_and_times(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    for name in ("a/1.png", "a/2.png", "b/3.png"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(bytes(range(256)) * 1000)
    (folder / ".DS_Store").write_text("not data")
    config = {"path": str(folder), "val_path": None, "batch_size": 64}
    trained = data_fingerprint(config)
    assert trained is not None and (trained["files"], trained["bytes"]) == (3, 768_000)
    assert data_change(trained, data_fingerprint(config)) is None
    sizes = " (3 files of 768000 bytes; trained on 3 files of 768000 bytes)"
    edited = folder / "b" / "3.png"
    before = edited.stat()
    with edited.open("r+b") as file:  # another byte; the same size and time (set back below)
        file.write(b"\xff")
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
    changed = data_fingerprint(config)
    assert data_change(trained, changed) == "sampled_contents differ" + sizes
    os.utime(folder / "a" / "1.png", ns=(0, 0))  # copied elsewhere, say: the same contents
    assert data_change(changed, data_fingerprint(config)) == "modification_times differ" + sizes
    assert data_fingerprint({"num_samples": 2000}) is None  # generated data: its config says it
