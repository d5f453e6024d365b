"""Bad input gets one `Error: ...` line, exit status 1, and leaves no run folder behind.

The catalogue runs through the real entry points (`train_main`, what `python train.py` calls,
or the root script a case names first: eval.py, predict.py, ...), each case in turn inside one
process, so the whole walk costs one start-up.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from {{ cookiecutter.package_name }}.build import build_node
from {{ cookiecutter.package_name }}.errors import ConfigError, describe
from {{ cookiecutter.package_name }}.runs.checks import check_config
from {{ cookiecutter.package_name }}.training import train

from .conftest import PROJECT_ROOT, compose_config

# (command-line arguments, a part of the one line it must print). {tmp} is the test's folder.
CATALOGUE: list[tuple[list[str], str]] = [
    # caught by Hydra while it composes, against the schemas
    (["trainer.max_epoch=3"], "trainer.max_epoch is not a known key"),
    (["model.optimizer.lrr=0.1"], "model.optimizer.lrr is not a known key; did you mean: 'lr'?"),
    (["seeed=1"], "seeed is not a known key; did you mean: 'seed'?"),
    (["data.batch_size=abc"], "data.batch_size: Value 'abc' of type 'str' could not be converted"),
    (["model=mlpp"], "model=mlpp is not an option; use one of: cnn, linear, mlp"),
    (["trainer=tpu_pod"], "trainer=tpu_pod is not an option; use one of: cpu,"),
    (["model==mlp"], "cannot read the override 'model==mlp'"),
    (["seed=[1"], "cannot read the override 'seed=[1'"),
    (["seed=${nowhere}"], "seed: Interpolation key 'nowhere' not found"),
    (["data.num_workers=???"], "data.num_workers has no value"),
    # caught by the checks at the start of the task
    (["data.batch_size=0"], "data.batch_size=0 must be at least 1"),
    (["trainer.accelerator=cpu", "trainer.devices=9999"], "starts 9999 processes on a machine"),
    (["model.optimizer.lr=-0.1"], "model.optimizer.lr=-0.1 must be a positive number"),
    (["model.optimizer.lr=nan"], "model.optimizer.lr=nan must be a positive number"),
    (["model.optimizer.lr=inf"], "model.optimizer.lr=inf must be a positive number"),
    (["+model.optimizer.weight_decay=nan"], "model.optimizer.weight_decay=nan is not a finite"),
    (["trainer.gradient_clip_val=inf"], "trainer.gradient_clip_val=inf is not a finite number"),
    (["monitor.mode=biggest"], "monitor.mode=biggest must be min or max"),
    (["monitor.metric=val/accuracy"], "is not logged by regression runs; choose one of: val/loss"),
    (["monitor.metric=test/loss"], "test metrics exist only after training"),
    (
        ["callbacks.early_stopping.monitor=val/accuracy"],
        "early_stopping.monitor=val/accuracy is not",
    ),
    (["ckpt_path=missing.ckpt"], "ckpt_path=missing.ckpt is not a file"),
    (["ckpt_path={tmp}/corrupt.ckpt"], "is not a readable checkpoint"),
    (["ckpt_path=last", "paths.log_dir={tmp}/empty"], "ckpt_path=last found no last.ckpt of a"),
    (["hydra.run.dir={tmp}/a_file/run"], "cannot write"),
    # raised by Hydra or Lightning while the run is built, before its first training step
    (["+data.batch_szie=3"], "data: TypeError:"),
    (["model.net._target_=torch.nn.Nope"], "Error locating target 'torch.nn.Nope'"),
    (["trainer=gpu"], "trainer: MisconfigurationException:"),
    (["--config-name", "train", "trainer=gpu"], "trainer: MisconfigurationException:"),
    (["+trainer.max_epoch=3"], "trainer: TypeError:"),
    (["data.val_fraction=0.6", "data.test_fraction=0.5"], "leave samples for training"),
    (["trainer.strategy=warp_drive"], "trainer: ValueError: You selected an invalid strategy"),
    (["model=mlp", "model.net.activation=Relu"], "activation 'Relu' is not a torch.nn activation"),
    (["data=csv", "data.path=missing.csv"], "data.path=missing.csv does not exist"),
    (["data=csv", "data.path={tmp}/words.csv", "data.target_column=x"], "'x' holds text where"),
    (["data=csv", "data.path={tmp}/words.csv", "data.target_column=z"], "has no column 'z'"),
    (["data=csv", "data.path={tmp}/inf.csv", "data.target_column=y"], "'x' holds inf in row 1"),
    (
        ["data=csv", "data.path={tmp}/ragged.csv"],
        "ragged.csv: CSV parse error: Row #3: Expected 2 columns, got 1: 3; fix",
    ),
    (["data=csv", "data.path={tmp}/xy.parquet", "data.target_column=t"], "has no column 't'"),
    (
        [
            "data=csv",
            "data.path={tmp}/one_group.csv",
            "data.target_column=y",
            "data.group_column=g",
        ],
        "data.group_column holds one group for all 30 samples",
    ),
    (["data=csv", "data.path={tmp}/header.csv", "data.target_column=y"], "a header but no rows"),
    (
        ["data=csv", "data.path={tmp}/one_row.csv", "data.target_column=y"],
        "1 sample split as train 1, val 0, test 0",
    ),
    (["data.num_samples=4"], "4 samples split as train 4, val 0, test 0 (data.val_fraction=0.1"),
    (["data.test_fraction=0.0002"], "the test split comes out empty; give more samples, or raise"),
    (["ckpt_path={tmp}/linear.ckpt", "model=mlp"], "weights do not fit the configured model"),
    (["data.num_folds=5", "data.fold=5"], "num_folds must be at least 2 and the fold one of"),
    # eval.py and predict.py, on checkpoints
    (["eval.py", "ckpt_path={tmp}/linear.ckpt", "model=mlp"], "model=mlp: the checkpoint holds"),
    (["predict.py", "ckpt_path={tmp}/table.ckpt", "input={tmp}/x.csv"], "x.csv lacks 'y': its"),
    (["predict.py", "ckpt_path={tmp}/table.ckpt", "input={tmp}/xyw.csv"], "has 'w', unknown to"),
    (["predict.py", "ckpt_path={tmp}/table.ckpt", "input={tmp}/yz.csv"], "lacks 'x' and has 'z',"),
    (["predict.py", "ckpt_path={tmp}/linear.ckpt", "input={tmp}/xyz.csv"], "reads no new inputs"),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workdir(tmp_path_factory.mktemp("catalogue"))


def make_workdir(tmp: Path) -> Path:
    """A folder with the files the catalogue refers to: a checkpoint, broken files."""
    run_dir = tmp / "trained"
    train(
        compose_config(run_dir, "trainer.max_epochs=1", "logger=none", "callbacks=model_checkpoint")
    )
    (run_dir / "checkpoints" / "last.ckpt").rename(tmp / "linear.ckpt")
    (tmp / "corrupt.ckpt").write_bytes(b"not a checkpoint")
    (tmp / "a_file").write_text("")
    (tmp / "empty").mkdir()
    (tmp / "words.csv").write_text("x,y\n1,2\nseven,3\n")
    for name, header in (("x", "x"), ("xyw", "x,y,w"), ("yz", "y,z")):  # new rows, other columns
        (tmp / f"{name}.csv").write_text(f"{header}\n" + ",".join("1" * len(header.split(","))))
    table = tmp / "table.csv"  # features x and y, target t
    table.write_text("x,y,t\n" + "".join(f"{i},{i % 3},{2 * i}\n" for i in range(30)))
    table_run = tmp / "table_run"
    settings = ("data=csv", f"data.path={table}", "data.target_column=t", "trainer.max_epochs=1")
    train(compose_config(table_run, *settings, "logger=none", "callbacks=model_checkpoint"))
    (table_run / "checkpoints" / "last.ckpt").rename(tmp / "table.ckpt")
    (tmp / "inf.csv").write_text("x,y\n1,2\ninf,3\n")
    (tmp / "ragged.csv").write_text("x,target\n1,2\n3\n")
    (tmp / "header.csv").write_text("x,y\n")
    (tmp / "one_row.csv").write_text("x,y\n1,2\n")
    (tmp / "one_group.csv").write_text("x,g,y\n" + "".join(f"{i},a,{i}\n" for i in range(30)))
    pq.write_table(pa.table({"x": [1.0, 2.0], "y": [3.0, 4.0]}), tmp / "xy.parquet")
    return tmp


DRIVER = """
import contextlib, importlib, io, json, re, sys
from pathlib import Path

MAINS = {}  # each root script's entry point, found as its `from <module> import <main>` line
for path in Path(sys.argv[2]).glob("*.py"):
    module, name = re.findall(r"^from (\\S+) import (\\w+)", path.read_text(), re.M)[0]
    MAINS[path.name] = getattr(importlib.import_module(module), name)
train_main = MAINS.pop("train.py")
results = []
for args in json.loads(sys.argv[1]):
    script = args[0] if args and args[0] in MAINS else "train.py"
    sys.argv = [script, *args[script != "train.py":]]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            MAINS.get(script, train_main)()
        code = 0
    except SystemExit as exit:
        code = exit.code
    runs = [str(p) for p in Path("logs").glob("*runs/*")]
    results.append({"args": args, "code": code, "stderr": stderr.getvalue(), "runs": runs})
print(json.dumps(results))
"""


@pytest.mark.slow
def test_every_bad_input_gets_one_line_and_leaves_no_run_folder(workdir: Path) -> None:
    assert len(CATALOGUE) >= 25
    assert_one_line_errors(CATALOGUE, workdir)


def assert_one_line_errors(catalogue: list[tuple[list[str], str]], workdir: Path) -> None:
    """Runs each case of `catalogue` in `workdir` ({tmp} in its arguments), all in one process:
    each must exit 1 with one `Error: ...` line holding its text, and leave no run folder."""
    cases = [[arg.replace("{tmp}", str(workdir)) for arg in args] for args, _ in catalogue]
    # Offline for sure: downloads go to a proxy that refuses them, into an empty cache.
    offline = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy")}
    driver = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(cases), str(PROJECT_ROOT)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=900,
        env=env | offline | {"TORCH_HOME": str(workdir / "torch_home")},
    )
    assert driver.returncode == 0, driver.stderr[-3000:]
    results = json.loads(driver.stdout.splitlines()[-1])
    wrong = []
    for (args, expected), result in zip(catalogue, results, strict=True):
        lines = [line for line in result["stderr"].splitlines() if line.startswith("Error: ")]
        ok = result["code"] == 1 and len(lines) == 1 and expected in lines[0]
        ok = ok and "Traceback" not in result["stderr"] and not result["runs"]
        if not ok:
            wrong.append(
                f"{args}: exit {result['code']}, runs {result['runs']}\n{result['stderr']}"
            )
    assert not wrong, "\n\n".join(wrong)


@pytest.mark.slow
def test_the_config_is_composed_once_per_run(tmp_path: Path) -> None:
    counter = """
import gc, sys
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from {{ cookiecutter.package_name }}.cli import train_main

calls = []
load = ConfigLoaderImpl._load_configuration_impl
ConfigLoaderImpl._load_configuration_impl = lambda *a, **k: calls.append(1) or load(*a, **k)
sys.argv = ["train.py", "trainer.max_epochs=1", "logger=none"]
train_main()
print("compositions:", len(calls), "frozen objects:", gc.get_freeze_count() > 100_000)
"""
    result = subprocess.run(
        [sys.executable, "-c", counter], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    # ... and the job imports Lightning as cli.startup.import_lightning does (tests/test_cli.py).
    assert result.stdout.strip().splitlines()[-1] == "compositions: 1 frozen objects: True"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.optimizer.lr=nan", "model.optimizer.lr"),  # its own range check
        ("+model.optimizer.momentum=nan", "model.optimizer.momentum"),
        ("data.noise=inf", "data.noise"),
        ("trainer.gradient_clip_val=-inf", "trainer.gradient_clip_val"),
        ("callbacks.early_stopping.min_delta=nan", "callbacks.early_stopping.min_delta"),
    ],
)
def test_non_finite_hyperparameters_are_refused(make_config, override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}=-?(nan|inf) "):
        check_config(make_config(override))


def test_every_monitored_metric_is_checked_before_training(make_config) -> None:
    with pytest.raises(ConfigError, match="callbacks.model_checkpoint.monitor=val/acc is not"):
        check_config(make_config("callbacks.model_checkpoint.monitor=val/acc"))
    with pytest.raises(ConfigError, match="model.monitor=val/accuracy is not logged.*val/acc"):
        check_config(make_config("data=digits", "model.monitor=val/accuracy"))
    check_config(make_config("data=digits", "callbacks.early_stopping.monitor=val/acc"))


def test_a_build_error_names_its_config_key(monkeypatch) -> None:
    """Hydra notes the failing node's key on the exception (`add_note`, Python 3.11 and later);
    where it notes none, as on Python 3.10, the build names the group it was building."""
    net = {"_target_": "torch.nn.Linear", "in_features": 2, "out_features": -1}
    with pytest.raises(RuntimeError) as caught:
        build_node("model", OmegaConf.create({"model": {"net": net}}).model)
    line = describe(caught.value)
    assert line is not None and line.startswith("model.net: RuntimeError: Trying to create tensor")

    def without_notes(*args: object, **kwargs: object) -> None:
        raise RuntimeError("refused")

    monkeypatch.setattr("{{ cookiecutter.package_name }}.build.instantiate", without_notes)
    with pytest.raises(RuntimeError) as caught:
        build_node("data", OmegaConf.create({}))
    assert describe(caught.value) == (
        "data: RuntimeError: refused (HYDRA_FULL_ERROR=1 shows where)"
    )
