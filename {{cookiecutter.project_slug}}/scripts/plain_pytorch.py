"""Fit the default data without Lightning and compare: python scripts/plain_pytorch.py --epochs 20

Closed-form least squares, the by-hand autograd loop and the nn/optim loop, all on the
standardised training split that `python train.py` trains on.
"""

import argparse

from {{ cookiecutter.package_name }}.data.regression import SyntheticRegressionDataModule
from {{ cookiecutter.package_name }}.tools.plain_pytorch import fit_by_hand, fit_with_nn, least_squares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    datamodule = SyntheticRegressionDataModule()
    datamodule.setup()
    train_set = datamodule.train_set
    # The transforms broadcast, so they turn the whole (N, F) split into tensors at once.
    features = datamodule.eval_transform(train_set.features)
    targets = datamodule.target_transform(train_set.targets)

    exact_w, exact_b = least_squares(features, targets)
    hand_w, hand_b = fit_by_hand(features, targets, args.lr, args.epochs, args.batch_size)
    model = fit_with_nn(train_set, args.lr, args.epochs, args.batch_size)
    nn_w, nn_b = model.weight.detach(), model.bias.detach()

    print(f"{'parameter':>10} {'closed form':>12} {'by hand':>12} {'nn + optim':>12}")
    for i, row in enumerate(zip(exact_w[0], hand_w[0], nn_w[0], strict=True)):
        print(f"{f'w[{i}]':>10}" + "".join(f"{v:12.4f}" for v in row))
    print(f"{'b':>10}" + "".join(f"{v:12.4f}" for v in (exact_b[0], hand_b[0], nn_b[0])))
    for name, (w, b) in {"by hand": (hand_w, hand_b), "nn + optim": (nn_w, nn_b)}.items():
        gap = max((w - exact_w).abs().max().item(), (b - exact_b).abs().max().item())
        print(f"{name}: largest gap to the closed form {gap:.2e}")


if __name__ == "__main__":
    main()
