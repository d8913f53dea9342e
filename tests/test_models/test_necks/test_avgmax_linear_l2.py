import pytest
import torch

from mmmix.models.necks import AvgMaxPoolLinearL2Neck
from mmmix.ops.metrix import mix


@pytest.mark.parametrize('per_pair', [False, True])
def test_forward_mixed_equals_the_neck_on_explicit_mixes(per_pair):
    torch.manual_seed(0)
    neck = AvgMaxPoolLinearL2Neck(8, 5, chunk_size=7).double()
    x = torch.randn(6, 8, 3, 3, dtype=torch.float64, requires_grad=True)
    i = torch.tensor([0, 1, 2, 3, 4, 5, 0, 2, 1, 5, 3, 4, 0, 1, 2, 3, 4])
    j = torch.tensor([1, 2, 3, 4, 5, 0, 3, 5, 4, 2, 1, 0, 5, 3, 0, 1, 2])
    lam = torch.rand(len(i), dtype=torch.float64) if per_pair else 0.3
    ours = neck.forward_mixed((x, ), i, j, lam)
    naive = neck((mix(x, i, j, lam), ))[0]
    torch.testing.assert_close(ours, naive)
    torch.testing.assert_close(ours.norm(dim=1), torch.ones(len(i),
                                                           dtype=ours.dtype))
    g1 = torch.autograd.grad(ours.sum(), (x, neck.fc.weight))
    g2 = torch.autograd.grad(naive.sum(), (x, neck.fc.weight))
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)


def test_lam_one_is_the_first_constituent_and_shapes():
    torch.manual_seed(0)
    neck = AvgMaxPoolLinearL2Neck(4, 3)
    x = torch.randn(5, 4, 2, 2)
    out = neck((x, ))[0]
    assert out.shape == (5, 3)
    i, j = torch.tensor([3, 1]), torch.tensor([0, 4])
    torch.testing.assert_close(neck.forward_mixed(x, i, j, 1.0), out[i])
    # GAP and GMP are summed: linear layer of (mean + max)
    pooled = x.mean((2, 3)) + x.amax((2, 3))
    torch.testing.assert_close(
        out, torch.nn.functional.normalize(neck.fc(pooled), dim=1))
    assert (neck.fc.bias == 0).all()
    with pytest.raises(ValueError, match=r'\(b, c, h, w\)'):
        neck((torch.randn(2, 4), ))
    with pytest.raises(ValueError, match='chunk_size must be >= 1'):
        AvgMaxPoolLinearL2Neck(4, 3, chunk_size=0)
