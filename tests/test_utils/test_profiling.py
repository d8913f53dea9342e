import pytest
import torch

from mmmix.utils.profiling import mean_std, saved_tensor_bytes


def test_saved_tensor_bytes_counts_each_storage_once():
    x = torch.randn(1000, requires_grad=True)
    # exp saves its output (4000 bytes); the two views of one product
    # share a storage
    out, kept = saved_tensor_bytes(lambda: x.exp().sum())
    assert kept == 4000 and out.requires_grad
    y = torch.randn(1000)
    _, kept2 = saved_tensor_bytes(lambda: (x * y).sum())
    assert kept2 == 4000        # mul saves y only (x needs no saving)


def test_mean_std():
    assert mean_std([1.0, None, 3.0]) == dict(
        mean=2.0, std=pytest.approx(2 ** 0.5), n=2)
    assert mean_std([5.0]) == dict(mean=5.0, std=0.0, n=1)
    assert mean_std([None]) is None
