"""A baked project against plain PyTorch, pair by pair: bench/benchmark.py --project DIR

`make bench` bakes the default project into build/bench/ and runs this on it. Each comparison
runs as pairs, interleaved (project, baseline, project, baseline, ...; in `process`, each round
runs the project and then both plain baselines) for --rounds rounds, with torch and OpenMP held
to --threads threads on both sides. The table shows each side's median, the median and range
of the ratio project / baseline over the rounds (of time, or of peak memory: above 1 the project
costs more) and the 1-minute load average while the pairs ran. The baselines are what an expert
writes by hand:

- loader: the project's training loader (`TensorBatchSampler` + `__getitems__`, transforms run
  per batch) against `TensorDataset` + `DataLoader` over tensors transformed up front, and
  against slicing those tensors by hand (the limit), on the digits training split;
- loop: training in one process, on the same batches: `SupervisedModule` + `Trainer` (no
  validation, checkpoint, logger or progress bar) against a plain loop updating the same
  torchmetrics, for model=linear on the regression data and model=cnn on digits, both with the
  batched augmentation;
- process: `python train.py` with its defaults against `python bench/plain_train.py` doing
  the same work (same data, split, network, optimizer, metrics and augmentation; validation every
  epoch, best and last checkpoints, early stopping, the test of the best weights): wall time,
  time to the end of the first training step (first_step_clock.py), peak memory (max RSS);
  then the same measures against the plain script with its imports made as train.py makes its
  own (garbage collector paused, then frozen), which hand-written scripts do not do: like for
  like;
- peer (--peer PATH, a checkout of ashleve/lightning-hydra-template): one MNIST epoch of both
  projects, same-sized MLPs, batch size and split, reading the same 60,000 + 10,000 images in
  MNIST's IDX files (written by this script: MNIST cannot be downloaded everywhere);
- gpu: where CUDA is, the loop on the GPU in samples/s, also with the data on the device;
- images (`--sections images` runs it alone): `data=images` on a generated folder of --images
  128x128 JPEG files (10 classes), read in worker processes, against torchvision's `ImageFolder`
  + `DataLoader` with the same workers, batch size and transforms (random resized crop, flip, to
  float, normalise): images/s of the loaders alone, and of training the cnn and resnet18 on them
  (--image-batches batches each); one process reading files as the project does against PIL
  decoding them (the decoder's limit per worker); and `python train.py data=images` on the whole
  folder against the same on a tenth of it: time to the first step and peak memory.
- table: `data=csv` on a generated CSV of --table-rows x 20 float32 values: rows per second of
  its setup (read, split, statistics) against `pyarrow.csv.read_csv` of the file; and, of
  `python train.py data=csv` against the default data's run (both stopped after one step), the
  time to the first step it adds against pyarrow's read, and the peak memory it adds against the
  table's float32 size (`--sections table` runs it alone).
- serve: `python serve.py` on a table classifier against a hand-written LitServe API
  (serve_anchor.py: same network, same preprocessing, same answer, no request checks), both on
  loopback, both with `max_batch_size` 1 and 16: requests/s and p50/p99 latency of
  --serve-requests requests from 32 concurrent clients (keep-alive connections), the two servers
  loaded in turn. `--sections serve` runs it alone.

Prints one table and writes every measurement to --out (JSON).
"""

import argparse
import http.client
import importlib
import json
import logging
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import lightning as L
import numpy as np
import pyarrow as pa
import pyarrow.csv
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import MeanMetric

import first_step_clock

BENCH = Path(__file__).resolve().parent
SECTIONS = ("loader", "loop", "process", "peer", "gpu", "images", "table", "serve")
MIB = 1024 * 1024
RATES = ("samples/s", "requests/s")


@dataclass
class Row:
    """One comparison: each side's value per round, and the ratio project / baseline."""

    section: str
    measure: str
    unit: str  # "s" or "MiB": ratio of the values; "samples/s": ratio of the times
    baseline_name: str
    project: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    note: str = ""

    def add(self, project: float, baseline: float) -> None:
        self.project.append(project)
        self.baseline.append(baseline)
        self.load.append(os.getloadavg()[0])

    @property
    def ratios(self) -> list[float]:
        pairs = zip(self.project, self.baseline, strict=True)
        if self.unit in RATES:  # a rate: the time ratio is the inverse
            return [b / p for p, b in pairs]
        return [p / b for p, b in pairs]

    def summary(self) -> dict[str, Any]:
        ratios = self.ratios
        return asdict(self) | {
            "project_median": statistics.median(self.project) if self.project else None,
            "baseline_median": statistics.median(self.baseline) if self.baseline else None,
            "ratio_median": statistics.median(ratios) if ratios else None,
            "ratio_min": min(ratios, default=None),
            "ratio_max": max(ratios, default=None),
        }


class Project:
    """A baked project: its folder, and the parts of its package that the in-process sections
    use, imported from its src/ folder (the timed processes import it from there too)."""

    def __init__(self, root: Path) -> None:
        packages = [init.parent for init in root.glob("src/*/__init__.py")]
        if len(packages) != 1 or not (root / "train.py").is_file():
            raise SystemExit(f"Error: {root} is not a baked project (train.py, src/<package>/)")
        self.root = root
        self.src = packages[0].parent
        sys.path.insert(0, str(self.src))
        package = packages[0].name

        def module(name: str) -> ModuleType:
            return importlib.import_module(f"{package}.{name}")

        config = module("config")
        config.register_configs()  # the schemas and resolvers conf/ names
        self.config_dir = str(config.config_dir())
        self.instantiate: Callable[..., Any] = config.instantiate
        self.digits_datamodule: type = module("data.digits").DigitsDataModule
        self.write_mnist: Callable[..., Path] = module("data.mnist").write_mnist
        self.digits_file: Path = module("data.digits").DIGITS_FILE
        self.task_metrics: Callable[..., Any] = module("models.supervised").task_metrics
        self.table_datamodule: type = module("data.table").CSVDataModule

    def config(self, *overrides: str) -> DictConfig:
        """conf/train.yaml composed with `overrides`, as `python train.py` composes it."""
        with initialize_config_dir(config_dir=self.config_dir):
            return compose(config_name="train", overrides=list(overrides))


def epoch_count(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def interleaved(rounds: int, project: Callable[[], Any], baseline: Callable[[], Any]) -> Iterator:
    """(project's result, baseline's result) per round, run A B A B ..."""
    for _ in range(rounds):
        yield project(), baseline()


# --- loader -------------------------------------------------------------------------------------


def bench_loader(project: Project, rows: list[Row], rounds: int, epochs: int) -> None:
    datamodule = project.digits_datamodule(augment=False)
    datamodule.setup()
    dataset = datamodule.train_set
    x_all, y_all = dataset.__getitems__(list(range(len(dataset))))  # transformed once, up front
    expert = DataLoader(TensorDataset(x_all, y_all), datamodule.batch_size, shuffle=True)
    samples = epochs * len(dataset)

    def rate(batches: Callable[[], Any]) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            for _ in range(epochs):
                for _ in batches():
                    pass
            return samples / (time.perf_counter() - start)

        return run

    def slices() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(x_all))
        # index_select, not x_all[i]: advanced indexing may hand small gathers to a thread pool.
        for i in order.split(datamodule.batch_size):
            yield x_all.index_select(0, i), y_all.index_select(0, i)

    name = f"digits train split, batch {datamodule.batch_size}"
    for baseline_name, baseline in (
        ("TensorDataset + DataLoader", rate(lambda: expert)),
        ("slicing tensors (the limit)", rate(slices)),
    ):
        row = Row("loader", name, "samples/s", baseline_name)
        for a, b in interleaved(rounds, rate(datamodule.train_dataloader), baseline):
            row.add(a, b)
        rows.append(row)


# --- loop ---------------------------------------------------------------------------------------


class LoopClock(L.Callback):
    """Wall time from the start of training to its end (setup excluded, as in the plain loop)."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start


def loop_runs(
    project: Project, cfg: DictConfig, device: str, epochs: int
) -> tuple[Callable[[], float], Callable[[], float], Callable[[], float], int]:
    """Timed fits of `cfg` on `device`: Lightning's, the plain loop's over the same loader, and
    the plain loop's over the split held on the device; and the number of samples each sees."""
    instantiate = project.instantiate
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    task, shape, outputs = datamodule.task, datamodule.input_shape, datamodule.num_outputs
    augment = getattr(datamodule, "augmentation", None)
    loader = datamodule.train_dataloader()
    dataset = datamodule.train_set
    x_all, y_all = (t.to(device) for t in dataset.__getitems__(list(range(len(dataset)))))

    def lightning_fit() -> float:
        L.seed_everything(0, verbose=False)
        clock = LoopClock()
        trainer = L.Trainer(
            accelerator="gpu" if device == "cuda" else "cpu",
            devices=1,
            precision=cfg.trainer.precision,
            max_epochs=epochs,
            limit_val_batches=0,  # the plain loop does not validate either
            num_sanity_val_steps=0,
            callbacks=[clock],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(instantiate(cfg.model), datamodule=datamodule)
        return clock.seconds

    def plain_fit(batches: Callable[[], Any]) -> Callable[[], float]:
        def run() -> float:
            L.seed_everything(0, verbose=False)
            module = instantiate(cfg.model)
            module.build(task, shape, outputs)
            net, loss_fn = module.net.to(device), module.loss
            optimizer = module.optimizer_factory(net.parameters())
            metrics = project.task_metrics(task, outputs).to(device)
            mean_loss = MeanMetric().to(device)
            start = time.perf_counter()
            for _ in range(epochs):
                net.train()
                for x, y in batches():
                    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                    if augment is not None:
                        x = augment(x)
                    preds = net(x)
                    loss = loss_fn(preds, y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    mean_loss.update(loss.detach(), weight=len(y))
                    metrics.update(preds.detach(), y)
                for metric in (mean_loss, metrics):  # what the epoch's end logs
                    metric.compute()
                    metric.reset()
            if device == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - start

        return run

    def on_device() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(x_all), device=device)
        for i in order.split(datamodule.batch_size):
            yield x_all.index_select(0, i), y_all.index_select(0, i)

    samples = epochs * len(dataset)
    return lightning_fit, plain_fit(lambda: loader), plain_fit(on_device), samples


LOOP_CASES = {
    "linear/regression": ["model=linear"],
    "cnn/digits, augmented": ["model=cnn", "data=digits"],
}


def bench_loop(project: Project, rows: list[Row], rounds: int, epochs: int | None) -> None:
    for name, overrides in LOOP_CASES.items():
        cfg = project.config(*overrides)
        n = epochs or cfg.trainer.max_epochs
        lightning_fit, plain, _, _ = loop_runs(project, cfg, "cpu", n)
        plain()  # warm-up: the first calls allocate and pick kernels
        row = Row("loop", f"{name}, {epoch_count(n)}", "s", "plain loop, same metrics")
        for a, b in interleaved(rounds, lightning_fit, plain):
            row.add(a, b)
        rows.append(row)


def bench_gpu(project: Project, rows: list[Row], rounds: int, epochs: int | None) -> None:
    if not torch.cuda.is_available():
        rows.append(Row("gpu", "cnn/digits", "samples/s", "-", note="not measured: no CUDA device"))
        return
    cfg = project.config("model=cnn", "data=digits", "data.pin_memory=true")
    n = epochs or cfg.trainer.max_epochs
    lightning_fit, plain, on_device, samples = loop_runs(project, cfg, "cuda", n)
    plain(), on_device()  # warm-up
    name = f"cnn/digits, augmented, {torch.cuda.get_device_name()}"
    for baseline_name, baseline in (
        ("plain loop, same loader", plain),
        ("plain loop, data on the GPU", on_device),
    ):
        row = Row("gpu", name, "samples/s", baseline_name)
        for a, b in interleaved(rounds, lightning_fit, baseline):
            row.add(samples / a, samples / b)
        rows.append(row)


# --- image folders ------------------------------------------------------------------------------


def write_jpeg_folder(root: Path, count: int, classes: int = 10, size: int = 128) -> Path:
    """`count` smooth random size x size JPEG photos-alike in `classes` class folders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
        image.save(folder / f"{i:06d}.jpg", quality=90)
    return root


def image_runs(project: Project, folder: Path, model: str, batches: int) -> tuple[Any, Any, int]:
    """(the project's timed run, torchvision ImageFolder's, images per run) for `model`: None
    times the loaders alone, else training that model on `batches` batches."""
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    cfg = project.config(
        "data=images", f"data.path={folder}", "data.in_memory=false", *model_args(model)
    )
    datamodule = project.instantiate(cfg.data)
    datamodule.setup()
    mean, std = datamodule.fitted["mean"].tolist(), datamodule.fitted["std"].tolist()
    plain_transform = v2.Compose(
        [
            v2.RandomResizedCrop(
                datamodule.size, scale=tuple(datamodule.crop_scale), antialias=True
            ),
            v2.RandomHorizontalFlip(),
            v2.PILToTensor(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean, std),
        ]
    )
    plain_set = ImageFolder(str(folder), transform=plain_transform)
    workers = datamodule.num_workers

    def plain_loader() -> DataLoader:
        return DataLoader(
            plain_set,
            batch_size=datamodule.batch_size,
            shuffle=True,
            num_workers=workers,
            persistent_workers=workers > 0,
            prefetch_factor=datamodule.prefetch_factor if workers else None,
        )

    images = batches * datamodule.batch_size
    if model is None:

        def loader_rate(make: Callable[[], Any]) -> Callable[[], float]:
            def run() -> float:
                start = time.perf_counter()  # worker start-up included, on both sides
                for i, _ in enumerate(make()):
                    if i + 1 == batches:
                        break
                return images / (time.perf_counter() - start)

            return run

        return loader_rate(datamodule.train_dataloader), loader_rate(plain_loader), images

    def lightning_fit() -> float:
        L.seed_everything(0, verbose=False)
        clock = LoopClock()
        trainer = L.Trainer(
            accelerator="cpu",
            max_epochs=1,
            limit_train_batches=batches,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            callbacks=[clock],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(project.instantiate(cfg.model), datamodule=datamodule)
        return images / clock.seconds

    def plain_fit() -> float:
        L.seed_everything(0, verbose=False)
        module = project.instantiate(cfg.model)
        module.build(datamodule.task, datamodule.input_shape, datamodule.num_outputs)
        net, loss_fn = module.net, module.loss
        optimizer = module.optimizer_factory(net.parameters())
        # the metrics the project's training step updates, as in the loop section
        metrics = project.task_metrics(datamodule.task, datamodule.num_outputs)
        mean_loss = MeanMetric()
        net.train()
        start = time.perf_counter()
        for i, (x, y) in enumerate(plain_loader()):
            preds = net(x)
            loss = loss_fn(preds, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            mean_loss.update(loss.detach(), weight=len(y))
            metrics.update(preds.detach(), y)
            if i + 1 == batches:
                break
        for metric in (mean_loss, metrics):
            metric.compute()
        return images / (time.perf_counter() - start)

    return lightning_fit, plain_fit, images


def model_args(model: str | None) -> list[str]:
    return [f"model={model}"] if model else []


def decode_rates(project: Project, folder: Path, count: int) -> tuple[Any, Any]:
    """Images/s of one process reading `count` files as the project's workers do, and of PIL
    only decoding them (open, decode, convert to RGB): the decoder's limit per worker."""
    from PIL import Image

    cfg = project.config("data=images", f"data.path={folder}")
    datamodule = project.instantiate(cfg.data)
    read = datamodule.reader(augment=True)
    files = sorted(str(p) for p in folder.glob("*/*.jpg"))[:count]

    def project_read() -> float:
        start = time.perf_counter()
        for file in files:
            read(file)
        return len(files) / (time.perf_counter() - start)

    def pil_decode() -> float:
        start = time.perf_counter()
        for file in files:
            with Image.open(file) as image:
                image.convert("RGB")
        return len(files) / (time.perf_counter() - start)

    return project_read, pil_decode


def bench_images(
    project: Project,
    rows: list[Row],
    rounds: int,
    count: int,
    batches: int,
    env: dict[str, str],
    work: Path,
) -> None:
    large = write_jpeg_folder(work / "images_large", count)
    small = write_jpeg_folder(work / "images_small", count // 10)
    baseline = "torchvision ImageFolder + DataLoader"
    for model, model_batches in ((None, batches), ("cnn", batches), ("resnet18", batches // 4)):
        project_run, plain_run, images = image_runs(project, large, model, max(1, model_batches))
        plain_run()  # warm-up: page cache, kernels
        what = "loader alone" if model is None else f"training {model}"
        row = Row("images", f"{what}, {images:,} of {count:,} images", "samples/s", baseline)
        for a, b in interleaved(rounds, project_run, plain_run):
            row.add(a, b)
        rows.append(row)
    project_read, pil_decode = decode_rates(project, large, min(count, 2000))
    row = Row("images", "read 1 file: crop + flip, 1 process", "samples/s", "PIL decode only")
    for a, b in interleaved(rounds, project_read, pil_decode):
        row.add(a, b)
    rows.append(row)
    name = f"data=images, cnn: {count:,} images"
    first = Row("images", f"{name}: time to first step", "s", f"{count // 10:,} images")
    peak = Row("images", f"{name}: peak memory", "MiB", f"{count // 10:,} images")
    limits = ["trainer.max_epochs=1", "trainer.limit_train_batches=2"]
    limits += ["trainer.limit_val_batches=2", "trainer.limit_test_batches=2"]
    for r in range(rounds):
        runs = []
        for index, folder in enumerate((large, small)):
            clock = work / f"images{index}-{r}.json"
            overrides = ["data=images", f"data.path={folder}", "model=cnn", *limits]
            command = project_command(project, work / f"images{index}-{r}", "csv", *overrides)
            runs.append(run_process(command, work, clock, env))
        first.add(runs[0].first_step, runs[1].first_step)
        peak.add(runs[0].peak, runs[1].peak)
    rows += [first, peak]


# --- whole processes ----------------------------------------------------------------------------


@dataclass
class Process:
    wall: float  # launch to exit, seconds
    cpu: float  # user + system CPU seconds: steadier than wall time on a busy machine
    first_step: float  # launch to the end of the first training step, seconds
    first_step_cpu: float  # CPU seconds used by then
    peak: float  # maximum resident set size, MiB


# Linux keeps a process's peak resident size across exec, so a child forked from this process
# (gigabytes once the in-process sections have run) would report this process's peak as its own.
# This launcher, small, forks the command and writes the command's own peak (KiB) to argv[1].
PEAK_LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_process(command: list[str], cwd: Path, clock: Path, env: dict[str, str]) -> Process:
    """Runs `command` to its end; its own peak memory comes from wait4's resource usage (the
    largest of its process and the workers it waited for), taken by PEAK_LAUNCHER.

    A Lightning run's first step is written to `clock` by first_step_clock.py, which the
    variable FIRST_STEP_CLOCK turns on; the plain script is given `--clock` instead.
    """
    clock.unlink(missing_ok=True)
    log = clock.with_suffix(".log")
    env = env | {first_step_clock.ENV: str(clock)}
    with log.open("w") as output:
        launched = time.time()
        start = time.perf_counter()
        peak_file = clock.with_suffix(".peak")
        launched_command = [sys.executable, "-c", PEAK_LAUNCHER, str(peak_file), *command]
        child = subprocess.Popen(launched_command, cwd=cwd, env=env, stdout=output, stderr=output)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0 or not clock.exists():
        raise SystemExit(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    first = json.loads(clock.read_text())
    return Process(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        first_step=first["first_step"] - launched,
        first_step_cpu=first["cpu"],
        peak=int(peak_file.read_text()) * 1024 / MIB,  # ru_maxrss is in KiB
    )


def child_env(threads: int, paths: list[Path], **extra: str) -> dict[str, str]:
    """The environment of timed processes: torch and OpenMP held to `threads` threads, and
    `paths` put before PYTHONPATH."""
    pythonpath = [*map(str, paths), *filter(None, [os.environ.get("PYTHONPATH")])]
    threads_env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return os.environ | threads_env | {"PYTHONPATH": os.pathsep.join(pythonpath)} | extra


def project_command(project: Project, run_dir: Path, logger: str, *overrides: str) -> list[str]:
    """The project's own `python train.py`, with nothing added for the benchmark."""
    command = [sys.executable, str(project.root / "train.py"), *overrides]
    return command + [f"logger={logger}", f"hydra.run.dir={run_dir}"]


def plain_command(cfg: DictConfig, data: Path, task: str, out: Path, clock: Path) -> list[str]:
    """bench/plain_train.py with the settings of the composed config `cfg`."""
    optimizer = cfg.model.optimizer
    net = cfg.model.net
    hidden = net.get("channels") or net.get("hidden_sizes") or []
    d = cfg.data
    command = [sys.executable, str(BENCH / "plain_train.py"), "--data", str(data)]
    command += ["--task", task]
    command += ["--model", net._target_.rsplit(".", 1)[-1].lower()]
    command += ["--hidden", *map(str, hidden)]
    command += ["--optimizer", optimizer._target_.rsplit(".", 1)[-1].lower()]
    command += ["--lr", str(optimizer.lr), "--weight-decay", str(optimizer.get("weight_decay", 0))]
    command += ["--epochs", str(cfg.trainer.max_epochs), "--batch-size", str(d.batch_size)]
    command += ["--val-fraction", str(d.val_fraction), "--test-fraction", str(d.test_fraction)]
    command += ["--split-seed", str(d.split_seed), "--seed", str(cfg.seed)]
    command += ["--patience", str(cfg.callbacks.early_stopping.patience)]
    if d.get("augment"):
        command += ["--augment", "--rotation", str(d.rotation), "--translate", str(d.translate)]
    return command + ["--out", str(out), "--clock", str(clock)]


# train.py imports torch and Lightning with the garbage collector paused, then freezes what the
# import made (cli.import_lightning); hand-written scripts do not. The plain script is also
# timed with the same lines, so the table shows what is left when both sides do it.
PAUSED_NAME = "plain_train.py, GC paused at import"
GC_PAUSED = (
    "import gc, os, runpy, sys; gc.disable(); import torch, torchmetrics.classification;"
    " gc.freeze(); gc.enable(); sys.argv = sys.argv[1:];"
    " sys.path[0] = os.path.dirname(sys.argv[0]);"  # as `python script.py` sets it
    " runpy.run_path(sys.argv[0], run_name='__main__')"
)


def gc_paused(command: list[str]) -> list[str]:
    """`python script.py ...` run with its imports made as train.py makes its own."""
    return [command[0], "-c", GC_PAUSED, *command[1:]]


def write_arrays(project: Project, cfg: DictConfig, path: Path) -> str:
    """Saves the samples of `cfg.data` as the plain script reads them (`features`, `targets` in
    an .npz file); returns the data's task."""
    datamodule = project.instantiate(cfg.data)
    features, targets = datamodule.load()["train"]
    np.savez(path, features=features, targets=targets)
    return datamodule.task


PROCESS_CASES = {
    "linear/regression": ["model=linear"],
    "cnn/digits, augmented": ["model=cnn", "data=digits"],
}


def process_rows(section: str, name: str, baseline_name: str) -> dict[str, Row]:
    return {
        "wall": Row(section, f"{name}: wall time", "s", baseline_name),
        "cpu": Row(section, f"{name}: CPU time", "s", baseline_name),
        "first_step": Row(section, f"{name}: time to first step", "s", baseline_name),
        "first_step_cpu": Row(section, f"{name}: CPU to first step", "s", baseline_name),
        "peak": Row(section, f"{name}: peak memory", "MiB", baseline_name),
    }


def bench_process(
    project: Project,
    rows: list[Row],
    rounds: int,
    epochs: int | None,
    env: dict[str, str],
    work: Path,
) -> None:
    for index, (name, overrides) in enumerate(PROCESS_CASES.items()):
        if epochs:
            overrides = [*overrides, f"trainer.max_epochs={epochs}"]
        cfg = project.config(*overrides)
        data = work / f"case{index}.npz"
        task = write_arrays(project, cfg, data)
        case = f"{name}, {epoch_count(cfg.trainer.max_epochs)}"
        measures = process_rows("process", case, "plain_train.py")
        like_for_like = process_rows("process", case, PAUSED_NAME)
        for r in range(rounds):
            clock = work / f"clock{index}-{r}.json"
            # logger=csv: the plain script writes a CSV log too (and metrics.png is drawn).
            command = project_command(project, work / f"project{index}-{r}", "csv", *overrides)
            project_run = run_process(command, work, clock, env)
            command = plain_command(cfg, data, task, work / f"plain{index}-{r}", clock)
            plain = run_process(command, work, clock, env)
            for key, row in measures.items():
                row.add(getattr(project_run, key), getattr(plain, key))
            command = plain_command(cfg, data, task, work / f"paused{index}-{r}", clock)
            paused = run_process(gc_paused(command), work, clock, env)
            for key, row in like_for_like.items():
                row.add(getattr(project_run, key), getattr(paused, key))
        rows.extend([*measures.values(), *like_for_like.values()])


# --- the peer template on MNIST -----------------------------------------------------------------


def write_mnist_like(project: Project, data_dir: Path, num_train: int, num_test: int) -> None:
    """MNIST-format IDX files of MNIST's size, drawn from the real 8x8 digits: each one scaled
    to 20x20 and placed at a random offset in a 28x28 frame, as MNIST centres its digits."""
    with np.load(project.digits_file) as f:
        digits = torch.from_numpy(f["images"]).float()[:, None] * (255 / 16)
        labels = f["labels"]
    large = torch.nn.functional.interpolate(digits, size=(20, 20), mode="bilinear").round()
    rng = np.random.default_rng(0)
    for split, count in (("train", num_train), ("test", num_test)):
        chosen = rng.integers(0, len(digits), count)
        offsets = rng.integers(0, 9, size=(count, 2))
        images = np.zeros((count, 28, 28), dtype=np.uint8)
        small = large[chosen, 0].clamp(0, 255).to(torch.uint8).numpy()
        for (dy, dx), dst, src in zip(offsets, images, small, strict=True):
            dst[dy : dy + 20, dx : dx + 20] = src
        project.write_mnist(data_dir, split, images, labels[chosen])


def bench_peer(
    project: Project,
    rows: list[Row],
    rounds: int,
    work: Path,
    peer: Path,
    peer_python: str,
    mnist_train: int,
    env: dict[str, str],
    peer_env: dict[str, str],
) -> None:
    """One MNIST epoch of both; `env` and `peer_env`: each side's environment, with the clock."""
    num_test = mnist_train // 6
    data_dir = work / "mnist"
    write_mnist_like(project, data_dir, mnist_train, num_test)
    num_val = round(mnist_train / 12)  # the peer's 5,000 of 60,000
    batch = 128  # the peer's default
    ours = [
        "data=mnist",
        f"data.data_dir={data_dir}",
        "data.download=false",
        f"data.val_fraction={num_val / mnist_train}",
        f"data.batch_size={batch}",
        "model=mlp",
        "model.net.hidden_sizes=[64,128,64]",  # the peer's SimpleDenseNet (less its BatchNorms)
        "model.optimizer._target_=torch.optim.Adam",
        "model.optimizer.lr=0.001",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
    ]
    measures = process_rows("peer", "MNIST, MLP 64-128-64, 1 epoch", "lightning-hydra-template")
    for r in range(rounds):
        clock = work / f"mnist-clock-{r}.json"
        # logger=none: the peer logs nowhere by default either
        command = project_command(project, work / f"mnist-project-{r}", "none", *ours)
        project_run = run_process(command, work, clock, env)
        peer_command = [
            peer_python,
            str(peer / "src" / "train.py"),
            f"data.data_dir={data_dir}",
            f"data.batch_size={batch}",
            f"data.train_val_test_split=[{mnist_train - num_val},{num_val},{num_test}]",
            "trainer.max_epochs=1",
            "seed=42",
            f"paths.log_dir={work / 'peer-logs'}",
            f"hydra.run.dir={work / f'mnist-peer-{r}'}",
        ]
        other = run_process(peer_command, peer, clock, peer_env)
        for key, row in measures.items():
            row.add(getattr(project_run, key), getattr(other, key))
    rows.extend(measures.values())


# --- a large table -------------------------------------------------------------------------------


LIMITS = ("limit_train_batches", "limit_val_batches", "limit_test_batches")


# pyarrow's own read of a CSV file, in a process of its own: (wall, CPU) seconds.
READ_CSV = (
    "import json, sys, time; import pyarrow.csv; w, c = time.perf_counter(), time.process_time();"
    " pyarrow.csv.read_csv(sys.argv[1]);"
    " print(json.dumps([time.perf_counter() - w, time.process_time() - c]))"
)


def bench_table(
    project: Project, rows: list[Row], rounds: int, env: dict[str, str], work: Path, size: int
) -> None:
    path = work / "table.csv"
    values = np.random.default_rng(0).normal(size=(size, 20)).astype(np.float32)
    names = [f"x{i}" for i in range(19)] + ["target"]
    pyarrow.csv.write_csv(pa.table(dict(zip(names, values.T, strict=True))), path)
    del values
    name = f"{size:,} x 20 CSV"
    first = Row("table", f"{name}: first step, above default data", "s", "pyarrow.csv.read_csv")
    cpu = Row("table", f"{name}: CPU to first step, above default", "s", "pyarrow.csv.read_csv")
    peak = Row("table", f"{name}: peak memory, above default data", "MiB", "table as float32")
    one_step = [f"trainer.{key}=1" for key in ("max_epochs", *LIMITS)]
    table = ["data=csv", f"data.path={path}", "data.target_column=target"]
    clock = work / "table-clock.json"
    # Processes first: a child's peak memory counts from its parent's at fork, so the parent
    # must not hold a table yet.
    for r in range(rounds):
        default = project_command(project, work / f"default-{r}", "none", *one_step)
        default_run = run_process(default, work, clock, env)
        command = project_command(project, work / f"table-{r}", "none", *one_step, *table)
        table_run = run_process(command, work, clock, env)
        read = subprocess.run([sys.executable, "-c", READ_CSV, path], capture_output=True, env=env)
        read_wall, read_cpu = json.loads(read.stdout)
        first.add(table_run.first_step - default_run.first_step, read_wall)
        cpu.add(table_run.first_step_cpu - default_run.first_step_cpu, read_cpu)
        peak.add(table_run.peak - default_run.peak, size * 20 * 4 / MIB)

    def setup_rate() -> float:
        start = time.perf_counter()
        project.table_datamodule(path=str(path), target_column="target").setup()
        return size / (time.perf_counter() - start)

    def read_rate() -> float:
        start = time.perf_counter()
        pyarrow.csv.read_csv(path)
        return size / (time.perf_counter() - start)

    rate = Row("table", f"{name}: data=csv setup", "samples/s", "pyarrow.csv.read_csv")
    for a, b in interleaved(rounds, setup_rate, read_rate):
        rate.add(a, b)
    rows.extend([rate, first, cpu, peak])


# --- serving ------------------------------------------------------------------------------------

SERVE_BATCHES = (1, 16)
SERVE_CLIENTS = 32
BATCH_TIMEOUT = 0.005  # seconds, both servers
ANCHOR = "serve_anchor.py (hand-written LitServe)"


def write_serve_table(path: Path, rows: int = 400) -> Path:
    """Columns a, b, c and a label from the sign of a + b - c."""
    a, b, c = np.random.default_rng(0).normal(size=(3, rows))
    lines = ["a,b,c,label"] + [
        f"{a[i]:.6f},{b[i]:.6f},{c[i]:.6f},{'up' if a[i] + b[i] > c[i] else 'down'}"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Server:
    """A server process on a free loopback port, ready once GET /health answers 200; stopped
    with Ctrl-C (SIGINT), on which LitServe stops its worker processes too."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        with log.open("w") as output:
            self.process = subprocess.Popen(
                [*command[:2], *(a.replace("{port}", str(self.port)) for a in command[2:])],
                env=env,
                stdout=output,
                stderr=output,
            )
        self.log = log

    def __enter__(self) -> "Server":
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    return self
            except OSError:
                if self.process.poll() is not None:
                    break
            time.sleep(0.5)
        self.__exit__()
        raise SystemExit(f"the server did not start:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def load(port: int, bodies: list[bytes], clients: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of POSTing `bodies` from `clients` threads at once."""
    latencies: list[float] = []

    def client(share: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}
        for body in share:
            start = time.perf_counter()
            connection.request("POST", "/predict", body, headers)
            response = connection.getresponse()
            answer = response.read()
            latencies.append(time.perf_counter() - start)  # list.append is atomic
            if response.status != 200:
                raise SystemExit(f"port {port} answered {response.status}: {answer[:300]!r}")

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, [bodies[i::clients] for i in range(clients)]))
    wall = time.perf_counter() - start
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    return len(bodies) / wall, float(p50), float(p99)


def bench_serve(
    project: Project, rows: list[Row], rounds: int, requests: int, env: dict[str, str], work: Path
) -> None:
    if not (project.root / "serve.py").is_file():
        rows.append(Row("serve", "table classifier", "requests/s", "-", note="skipped: serve=no"))
        return
    table = write_serve_table(work / "serve-table.csv")
    run_dir = work / "serve-run"
    train = [sys.executable, str(project.root / "train.py"), "data=csv", f"data.path={table}"]
    train += ["data.target_column=label", "data.task=classification", "model=mlp", "test=false"]
    train += ["trainer.max_epochs=2", "logger=none", f"hydra.run.dir={run_dir}"]
    subprocess.run(train, env=env, check=True, capture_output=True)
    checkpoint = str(run_dir / "checkpoints" / "last.ckpt")
    rows_sent = np.random.default_rng(1).normal(size=(requests, 3)).tolist()
    bodies = [json.dumps({"a": a, "b": b, "c": c}).encode() for a, b, c in rows_sent]
    for batch in SERVE_BATCHES:
        name = f"table MLP, max_batch_size={batch}, {SERVE_CLIENTS} clients"
        measures = [
            Row("serve", f"{name}: requests/s", "requests/s", ANCHOR),
            Row("serve", f"{name}: p50 latency", "ms", ANCHOR),
            Row("serve", f"{name}: p99 latency", "ms", ANCHOR),
        ]
        ours = [sys.executable, str(project.root / "serve.py"), f"ckpt_path={checkpoint}"]
        ours += ["port={port}", f"max_batch_size={batch}", f"batch_timeout={BATCH_TIMEOUT}"]
        ours += [f"paths.log_dir={work / 'serve-logs'}"]
        anchor = [sys.executable, str(BENCH / "serve_anchor.py"), checkpoint, "{port}"]
        anchor += [str(batch), str(BATCH_TIMEOUT)]
        with (
            Server(ours, env, work / "serve.log") as served,
            Server(anchor, env, work / "anchor.log") as hand_written,
        ):
            warm_up = bodies[: SERVE_CLIENTS * 4]
            for server in (served, hand_written):
                load(server.port, warm_up, SERVE_CLIENTS)
            for measured in interleaved(
                rounds,
                lambda: load(served.port, bodies, SERVE_CLIENTS),
                lambda: load(hand_written.port, bodies, SERVE_CLIENTS),
            ):
                for row, project_value, anchor_value in zip(measures, *measured, strict=True):
                    row.add(project_value, anchor_value)
        rows.extend(measures)


# --- the table ----------------------------------------------------------------------------------


def machine(threads: int) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
    }


def value(number: float | None, unit: str) -> str:
    if number is None:
        return "-"
    return f"{number:,.0f}" if unit in RATES or number >= 100 else f"{number:.2f}"


def print_table(rows: list[Row], info: dict[str, Any], rounds: int) -> None:
    print(
        f"{info['cpu']}, {info['cores']} cores, GPU: {info['gpu'] or 'none'}; Python"
        f" {info['python']}, torch {info['torch']}, Lightning {info['lightning']};"
        f" {info['threads']}"
        f" thread(s) (OMP_NUM_THREADS, torch.set_num_threads); {rounds} round(s), pairs interleaved"
    )
    print("ratio: project / baseline, of time or memory (below 1: the project is cheaper)\n")
    header = f"{'section':<8} {'measure':<54} {'unit':<10} {'project':>9} {'baseline':>9}"
    header += f"  {'ratio [min-max]':<20} {'load':>5}  baseline"
    print(header)
    print("-" * len(header))
    for row in rows:
        s = row.summary()
        if not row.project:
            print(f"{row.section:<8} {row.measure:<54} {row.note}")
            continue
        ratio = f"{s['ratio_median']:.2f} [{s['ratio_min']:.2f}-{s['ratio_max']:.2f}]"
        print(
            f"{row.section:<8} {row.measure:<54} {row.unit:<10}"
            f" {value(s['project_median'], row.unit):>9} {value(s['baseline_median'], row.unit):>9}"
            f"  {ratio:<20} {statistics.median(row.load):>5.2f}  {row.baseline_name}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a baked project's folder")
    parser.add_argument("--rounds", type=int, default=5, help="pairs per comparison")
    parser.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads, both sides")
    parser.add_argument("--epochs", type=int, help="instead of the configs' trainer.max_epochs")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--peer", type=Path, help="a checkout of ashleve/lightning-hydra-template")
    parser.add_argument("--peer-python", default=sys.executable, help="the peer's interpreter")
    parser.add_argument("--mnist-train", type=int, default=60_000, help="MNIST training images")
    parser.add_argument("--table-rows", type=int, default=1_000_000, help="rows of the CSV table")
    parser.add_argument("--serve-requests", type=int, default=2000, help="per server and round")
    parser.add_argument("--images", type=int, default=20_000, help="JPEG files in the folder")
    parser.add_argument(
        "--image-batches", type=int, default=30, help="batches per image run (resnet18: 1/4)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmark.json"))
    args = parser.parse_args()
    # Only the table: Lightning's banners and hints would bury it.
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    project = Project(args.project.resolve())

    rows: list[Row] = []
    loads_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="benchmark-") as tmp:
        work = Path(tmp)
        # Timed Lightning runs find first_step_clock.py and the entry point that offers it.
        first_step_clock.register(work / "entry-points")
        clock_paths = [BENCH, work / "entry-points"]
        env = child_env(args.threads, [project.src, *clock_paths])
        if "loader" in args.sections:
            bench_loader(project, rows, args.rounds, args.epochs or 20)
        if "loop" in args.sections:
            bench_loop(project, rows, args.rounds, args.epochs)
        if "process" in args.sections:
            bench_process(project, rows, args.rounds, args.epochs, env, work)
        if "peer" in args.sections:
            if args.peer is None:
                rows.append(Row("peer", "MNIST, 1 epoch", "s", "-", note="skipped: no --peer PATH"))
            else:
                peer = args.peer.resolve()
                # The peer keeps its network in the checkpoint's hyperparameters, which torch
                # >= 2.6 refuses to unpickle when it tests the best checkpoint unless told to
                # load whole objects.
                peer_env = child_env(
                    args.threads,
                    clock_paths,
                    PROJECT_ROOT=str(peer),
                    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1",
                )
                bench_peer(
                    project,
                    rows,
                    args.rounds,
                    work,
                    peer,
                    args.peer_python,
                    args.mnist_train,
                    env,
                    peer_env,
                )
        if "gpu" in args.sections:
            bench_gpu(project, rows, args.rounds, args.epochs)
        if "table" in args.sections:
            bench_table(project, rows, args.rounds, env, work, args.table_rows)
        if "serve" in args.sections:
            bench_serve(project, rows, args.rounds, args.serve_requests, env, work)
        if "images" in args.sections:
            bench_images(project, rows, args.rounds, args.images, args.image_batches, env, work)
    info = machine(args.threads) | {"load_before": loads_before, "load_after": os.getloadavg()}
    print_table(rows, info, args.rounds)
    report = {"machine": info, "rounds": args.rounds, "rows": [row.summary() for row in rows]}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nload average (1, 5, 15 min) before {loads_before}, after {os.getloadavg()};"
        f" wrote {args.out}"
    )


if __name__ == "__main__":
    main()
