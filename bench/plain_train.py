"""A baked project's train.py work in plain PyTorch, the baseline benchmark.py times it against.

    python bench/plain_train.py --data arrays.npz --task regression --model linear
    python bench/plain_train.py --data digits.npz --task classification --model cnn --augment

What an expert writes by hand for the same run, with nothing from the project (not even its
imports, which would load Lightning): the arrays from an .npz file (`features`, `targets`), the
same split, training-split statistics, `TensorDataset` + `DataLoader`, the same network, loss,
optimizer and torchmetrics, the same batched augmentation on the batch's device, validation every
epoch, the best and the last checkpoint, early stopping, and the test of the best weights.
Writes metrics.csv, the checkpoints and metrics.json into --out; --clock FILE records when the
first training step was done.
"""

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, MetricCollection, R2Score
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score


def split(n: int, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Row indices of each split: test first, then validation, from one seeded permutation."""
    order = np.random.default_rng(seed).permutation(n)
    num_test, num_val = round(n * test_fraction), round(n * val_fraction)
    return {
        "test": order[:num_test],
        "val": order[num_test : num_test + num_val],
        "train": order[num_test + num_val :],
    }


def tensors(features: np.ndarray, targets: np.ndarray, task: str) -> dict[str, Tensor]:
    """Features as float32 (images scaled to [0, 1]), targets as class indices or (N, O)."""
    if task == "classification":
        x = torch.from_numpy(features).float() / 255
        y = torch.from_numpy(targets).long().reshape(-1)
    else:
        x = torch.from_numpy(features).float()
        y = torch.from_numpy(targets).float().reshape(len(targets), -1)
    return {"x": x, "y": y}


def standardize(data: dict[str, dict[str, Tensor]]) -> Tensor:
    """Normalises every split with the training split's statistics, per feature or per channel
    of images (N, C, H, W); returns what a black pixel becomes (the warp's fill)."""
    x = data["train"]["x"]
    dims = (0, 2, 3) if x.ndim == 4 else (0,)
    shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
    mean = x.double().mean(dims).float().reshape(shape)
    std = x.double().std(dims, correction=0).float().clamp_min(1e-6).reshape(shape)
    for part in data.values():
        part["x"] = (part["x"] - mean) / std
    return -mean / std


def random_affine(images: Tensor, degrees: float, translate: float, fill: Tensor) -> Tensor:
    """Rotation and shift drawn per image, for the whole batch in one grid_sample, on its device."""
    n, _, height, width = images.shape
    draws = torch.rand(n, 3, device=images.device) * 2 - 1
    angle = draws[:, 0] * math.radians(degrees)
    cos, sin = angle.cos(), angle.sin()
    # Whole-pixel shifts, as torchvision draws them, in affine_grid's units (2 = the side).
    shift_x = (draws[:, 1] * translate * width).round() * 2 / width
    shift_y = (draws[:, 2] * translate * height).round() * 2 / height
    theta = torch.stack(
        [
            torch.stack([cos, sin * height / width, shift_x], 1),
            torch.stack([-sin * width / height, cos, shift_y], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images - fill, grid, align_corners=False) + fill


def network(
    name: str, input_shape: tuple[int, ...], num_outputs: int, hidden: list[int]
) -> nn.Module:
    """conf/model/<name>.yaml's network, written out."""
    if name == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_outputs))
    if name == "mlp":
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        return nn.Sequential(*layers, nn.Linear(width, num_outputs))
    channels, height, width = input_shape
    layers = []
    for out in hidden:  # conv 3x3, ReLU, 2x2 max-pool per entry
        layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        channels, height, width = out, height // 2, width // 2
    return nn.Sequential(
        *layers,
        nn.Flatten(),
        nn.Linear(channels * height * width, 64),
        nn.ReLU(),
        nn.Dropout(0.0),
        nn.Linear(64, num_outputs),
    )


def metrics(task: str, num_outputs: int) -> MetricCollection:
    if task == "regression":
        return MetricCollection(
            {"mse": MeanSquaredError(), "mae": MeanAbsoluteError(), "r2": R2Score()}
        )
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_outputs, average="micro", validate_args=False),
            "f1": MulticlassF1Score(num_outputs, average="macro", validate_args=False),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help=".npz with features and targets")
    parser.add_argument("--task", choices=["regression", "classification"], default="regression")
    parser.add_argument("--model", choices=["linear", "mlp", "cnn"], default="linear")
    parser.add_argument("--hidden", type=int, nargs="*", default=[16, 32], help="mlp or cnn sizes")
    parser.add_argument("--optimizer", choices=["sgd", "adamw", "adam"], default="sgd")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--augment", action="store_true", help="random rotation and shift")
    parser.add_argument("--rotation", type=float, default=10.0, help="degrees, either side")
    parser.add_argument("--translate", type=float, default=0.1, help="fraction of the side")
    parser.add_argument("--patience", type=int, default=10, help="early stopping on val loss")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("plain-run"))
    parser.add_argument("--clock", type=Path, help="write when the first step was done here")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)

    with np.load(args.data) as arrays:
        features, targets = arrays["features"], arrays["targets"]
        if "test_features" in arrays:  # a given test split (MNIST's); validation from the rest
            rows = split(len(features), args.val_fraction, 0.0, args.split_seed)
            data = {
                name: tensors(features[rows[name]], targets[rows[name]], args.task)
                for name in ("train", "val")
            }
            data["test"] = tensors(arrays["test_features"], arrays["test_targets"], args.task)
        else:
            rows = split(len(features), args.val_fraction, args.test_fraction, args.split_seed)
            data = {name: tensors(features[r], targets[r], args.task) for name, r in rows.items()}
    fill = standardize(data).to(device)

    loaders = {
        name: DataLoader(
            TensorDataset(part["x"], part["y"]), args.batch_size, shuffle=name == "train"
        )
        for name, part in data.items()
    }
    num_outputs = (
        int(data["train"]["y"].max()) + 1
        if args.task == "classification"
        else data["train"]["y"].shape[1]
    )
    model = network(args.model, tuple(data["train"]["x"].shape[1:]), num_outputs, args.hidden).to(
        device
    )
    loss_fn = nn.CrossEntropyLoss() if args.task == "classification" else nn.MSELoss()
    optimizers = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW, "adam": torch.optim.Adam}
    optimizer = optimizers[args.optimizer](
        model.parameters(), lr=args.lr, weight_decay=args.weight_decay
    )
    scores = {name: metrics(args.task, num_outputs).to(device) for name in loaders}
    losses = {name: MeanMetric().to(device) for name in loaders}

    def evaluate(name: str) -> dict[str, float]:
        model.eval()
        with torch.inference_mode():
            for x, y in loaders[name]:
                x, y = x.to(device), y.to(device)
                preds = model(x)
                losses[name].update(loss_fn(preds, y), weight=len(y))
                scores[name].update(preds, y)
        return epoch_values(name)

    def epoch_values(name: str) -> dict[str, float]:
        values = {f"{name}/loss": float(losses[name].compute())}
        values |= {f"{name}/{k}": float(v) for k, v in scores[name].compute().items()}
        losses[name].reset()
        scores[name].reset()
        return values

    best, stale, rows_written = math.inf, 0, []
    for epoch in range(args.epochs):
        model.train()
        for x, y in loaders["train"]:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if args.augment:
                x = random_affine(x, args.rotation, args.translate, fill)
            preds = model(x)
            loss = loss_fn(preds, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses["train"].update(loss.detach(), weight=len(y))
            scores["train"].update(preds.detach(), y)
            if args.clock and not args.clock.exists():
                clock = {"first_step": time.time(), "cpu": time.process_time()}
                args.clock.write_text(json.dumps(clock))
        values = {"epoch": epoch, **epoch_values("train"), **evaluate("val")}
        rows_written.append(values)
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
        torch.save(state, args.out / "last.pt")
        if values["val/loss"] < best:
            best, stale = values["val/loss"], 0
            torch.save(state, args.out / "best.pt")
        else:
            stale += 1
        print(" ".join(f"{k}={v:.4g}" for k, v in values.items()), flush=True)
        if stale >= args.patience:
            break

    header = list(rows_written[0])
    lines = [",".join(header)] + [
        ",".join(str(row.get(k, "")) for k in header) for row in rows_written
    ]
    (args.out / "metrics.csv").write_text("\n".join(lines) + "\n")
    model.load_state_dict(torch.load(args.out / "best.pt")["model"])
    final = rows_written[-1] | evaluate("test")
    (args.out / "metrics.json").write_text(json.dumps(final, indent=2) + "\n")
    print(json.dumps(final, indent=2))


if __name__ == "__main__":
    main()
