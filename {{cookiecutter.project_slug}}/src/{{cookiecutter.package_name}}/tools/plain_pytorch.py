"""Linear regression in plain PyTorch, as first learned: the reference Lightning must match.

`fit_by_hand` writes gradient descent out (autograd, update under `no_grad`, `grad.zero_()`);
`fit_with_nn` is the same loop with `nn.Linear`, `nn.MSELoss`, `torch.optim.SGD` and a
`DataLoader`. `SupervisedModule` + `Trainer` run this loop for you, with logging, checkpoints and
devices on top; the tests check that all three reach the same weights.
"""

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset


def least_squares(features: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """The closed-form optimum: weight (O, F) and bias (O,) minimising the mean squared error."""
    ones = torch.ones(len(features), 1, dtype=torch.float64)
    design = torch.cat([features.double(), ones], dim=1)  # (N, F + 1): last column fits the bias
    solution = torch.linalg.lstsq(design, targets.double()).solution  # (F + 1, O)
    return solution[:-1].T.float(), solution[-1].float()


def fit_by_hand(
    features: Tensor, targets: Tensor, lr: float, epochs: int, batch_size: int, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Mini-batch gradient descent on y = x @ w.T + b with tensors that require gradients."""
    generator = torch.Generator().manual_seed(seed)
    num_samples, num_features = features.shape
    w = torch.zeros(targets.shape[1], num_features, requires_grad=True)  # (O, F)
    b = torch.zeros(targets.shape[1], requires_grad=True)  # (O,)
    for _ in range(epochs):
        order = torch.randperm(num_samples, generator=generator)
        for start in range(0, num_samples, batch_size):
            batch = order[start : start + batch_size]
            x, y = features[batch], targets[batch]  # (B, F), (B, O)
            loss = ((x @ w.T + b - y) ** 2).mean()
            loss.backward()  # dloss/dw and dloss/db land in w.grad and b.grad
            with torch.no_grad():  # the update itself must not become part of the graph
                for param in (w, b):
                    assert param.grad is not None  # filled by backward() just above
                    param -= lr * param.grad
                    param.grad.zero_()  # gradients accumulate across backward() calls otherwise
    return w.detach(), b.detach()


def fit_with_nn(
    dataset: Dataset, lr: float, epochs: int, batch_size: int, seed: int = 0
) -> nn.Linear:
    """The same descent with torch's parts: nn.Linear, nn.MSELoss, optim.SGD and a DataLoader."""
    torch.manual_seed(seed)
    x0, y0 = dataset[0]
    model = nn.Linear(x0.numel(), y0.numel())  # one layer, no activation: linear regression
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    # The project's datasets serve whole batches and say how to collate them; others stack samples.
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=True, collate_fn=getattr(dataset, "collate", None)
    )
    for _ in range(epochs):
        for x, y in loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model
