import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data.transforms import Compose, Standardize, ToTensor


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_to_tensor_casts_numpy_to_the_requested_dtype(dtype: torch.dtype) -> None:
    out = ToTensor(dtype)(np.array([1.0, 2.0, 3.0], dtype=np.float64))
    assert isinstance(out, torch.Tensor)
    assert out.dtype == dtype
    assert out.tolist() == [1, 2, 3]


def test_to_tensor_defaults_to_float32() -> None:
    assert ToTensor()(np.zeros(2, dtype=np.float64)).dtype == torch.float32


def test_compose_applies_transforms_in_order() -> None:
    class AddOne:
        def __call__(self, x: torch.Tensor) -> torch.Tensor:
            return x + 1

    class Double:
        def __call__(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    x = np.array([1.0, 2.0])
    assert Compose([ToTensor(), AddOne(), Double()])(x).tolist() == [4.0, 6.0]
    assert Compose([ToTensor(), Double(), AddOne()])(x).tolist() == [3.0, 5.0]
    assert "ToTensor" in repr(Compose([ToTensor()]))


def test_standardize_fit_gives_zero_mean_unit_std_on_the_fitted_data() -> None:
    data = np.random.default_rng(0).normal(loc=5.0, scale=3.0, size=(500, 4))
    standardize = Standardize.fit(data)
    out = standardize(torch.as_tensor(data, dtype=torch.float32))
    torch.testing.assert_close(out.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(0, correction=0), torch.ones(4), atol=1e-5, rtol=0)


def test_standardize_same_result_per_sample_and_per_batch() -> None:
    data = torch.randn(10, 3) * 4 + 1
    standardize = Standardize.fit(data)
    torch.testing.assert_close(torch.stack([standardize(row) for row in data]), standardize(data))


def test_standardize_constant_feature_stays_finite_and_inverse_round_trips() -> None:
    data = torch.tensor([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]])
    standardize = Standardize.fit(data)
    out = standardize(data)
    assert torch.isfinite(out).all()
    assert out[:, 1].abs().max() == 0
    torch.testing.assert_close(standardize.inverse(out), data)
