"""How close the project comes to hand-written PyTorch: python scripts/benchmark.py [--device cuda]

In one process, on the same data, batches and epochs:
- data: the project's loader (one `__getitems__` call per batch) vs a naive per-item `Dataset`
  with the default collate vs slicing ready-made tensors (the limit), on the digits images;
- training: the project's `SupervisedModule` + `Trainer`, built from the configs, vs the plain
  loop (forward, loss, zero_grad, backward, step) over the same loader, for model=linear on the
  regression data and model=cnn on digits (augmentation off: it would cost both the same);
- startup: `python train.py` until its first training step is done.
Prints a table and writes the numbers as JSON (--out).
"""

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from torch.utils.data import DataLoader

from {{ cookiecutter.package_name }}.cli import CONFIG_DIR
from {{ cookiecutter.package_name }}.config import instantiate
from {{ cookiecutter.package_name }}.data import PerItemDataset

ROOT = Path(__file__).resolve().parents[1]


class LoopClock(L.Callback):
    """Wall time from the first training batch to the end of fit (setup excluded, as in plain)."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seconds = time.perf_counter() - self.start


def timed(run: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of `repeats` runs: the least disturbed by other work on the machine."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def config(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR):
        return compose(config_name="train", overrides=list(overrides))


def bench_data(batch_size: int, epochs: int) -> dict[str, float]:
    cfg = config("data=digits", "data.augment=false", f"data.batch_size={batch_size}")
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    dataset = datamodule.train_set
    x_all, y_all = dataset.__getitems__(list(range(len(dataset))))  # transformed once, up front

    def drain(batches: Callable[[], Iterable]) -> Callable[[], object]:
        return lambda: [None for _ in range(epochs) for _ in batches()]

    def raw_slices() -> Iterable:
        order = torch.randperm(len(x_all))
        # index_select, not x_all[i]: advanced indexing may hand small gathers to the thread pool,
        # which on a busy machine makes it 100x slower from one run to the next.
        return (
            (x_all.index_select(0, i), y_all.index_select(0, i)) for i in order.split(batch_size)
        )

    naive = DataLoader(PerItemDataset(dataset), batch_size=batch_size, shuffle=True)
    samples = epochs * len(dataset)
    return {
        "project loader": samples / timed(drain(datamodule.train_dataloader)),
        "naive per-item loader": samples / timed(drain(lambda: naive)),
        "raw tensor slicing": samples / timed(drain(raw_slices)),
    }


def plain_loop(model, loss_fn, optimizer, loader: DataLoader, epochs: int, device) -> None:
    """The seed-style loop, on the same batches the Trainer gets."""
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def bench_training(name: str, overrides: list[str], epochs: int, device: str) -> dict[str, float]:
    cfg = config(*overrides)
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    loader = datamodule.train_dataloader()
    steps = epochs * len(loader)
    accelerator = "gpu" if device == "cuda" else "cpu"

    def lightning_fit() -> float:
        L.seed_everything(0, verbose=False)
        module = instantiate(cfg.model)
        module.build(datamodule.task, datamodule.input_shape, datamodule.num_outputs)
        clock = LoopClock()
        trainer = L.Trainer(
            accelerator=accelerator,
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
        trainer.fit(module, train_dataloaders=loader)
        return clock.seconds

    def plain_fit() -> float:
        L.seed_everything(0, verbose=False)
        module = instantiate(cfg.model)
        module.build(datamodule.task, datamodule.input_shape, datamodule.num_outputs)
        module = module.to(device)
        optimizer = module.configure_optimizers()
        optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
        start = time.perf_counter()
        plain_loop(module.net, module.loss, optimizer, loader, epochs, device)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    plain_fit()  # warm-up: first calls allocate and pick kernels
    plain = min(plain_fit() for _ in range(3))
    framework = min(lightning_fit() for _ in range(3))
    samples = epochs * len(datamodule.train_set)  # every sample of the split, once per epoch
    return {
        f"{name}: plain loop": samples / plain,
        f"{name}: Lightning": samples / framework,
        f"{name}: overhead per step (us)": (framework - plain) / steps * 1e6,
    }


def bench_startup() -> float:
    """Seconds from launching `python train.py` to the end of a one-step run (an upper bound)."""
    command = [sys.executable, str(ROOT / "train.py"), "trainer.max_steps=1", "trainer=cpu"]
    command += ["trainer.limit_val_batches=0", "test=false", "callbacks=none", "logger=none"]
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        result = subprocess.run(command, cwd=run_dir, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"train.py failed:\n{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    # Only the table: Lightning's banners and hints would bury it.
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--regression-samples", type=int, default=50_000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-startup", action="store_true", help="skip the startup timing")
    parser.add_argument("--out", type=Path, default=Path("benchmark.json"))
    args = parser.parse_args()

    b, n = args.batch_size, args.regression_samples
    results: dict[str, float] = bench_data(b, args.epochs * 4)
    results |= bench_training(
        "linear/regression",
        ["model=linear", f"data.batch_size={b}", f"data.num_samples={n}"],
        args.epochs,
        args.device,
    )
    cnn = ["model=cnn", "data=digits", "data.augment=false", f"data.batch_size={b}"]
    if args.device == "cuda":
        cnn += ["model.net.channels_last=true", "data.pin_memory=true"]
    results |= bench_training("cnn/digits", cnn, args.epochs * 4, args.device)
    if not args.no_startup:
        results["startup to first step (s)"] = bench_startup()

    r = results
    ratios = {
        "project loader speed / naive": r["project loader"] / r["naive per-item loader"],
        "raw slicing speed / project loader": r["raw tensor slicing"] / r["project loader"],
        "linear: Lightning time / plain loop": r["linear/regression: plain loop"]
        / r["linear/regression: Lightning"],
        "cnn: Lightning time / plain loop": r["cnn/digits: plain loop"]
        / r["cnn/digits: Lightning"],
    }
    print(f"device: {args.device}, threads: {torch.get_num_threads()}, batch size: {b}")
    print(f"{'measure':<42}{'value':>14}")
    for name, value in results.items():
        unit = "" if "(" in name else " samples/s"
        print(f"{name:<42}{value:>14,.1f}{unit}")
    for name, value in ratios.items():
        print(f"{name:<42}{value:>13.2f}x")
    report = {"device": args.device, "batch_size": b, "results": results, "ratios": ratios}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
