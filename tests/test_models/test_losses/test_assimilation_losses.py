import pytest
import torch
from mmengine.registry import DefaultScope

from mmmix.models.losses import A2FullLoss, AlignmentLoss, CrossViewInfoNCELoss
from mmmix.registry import MODELS

# spec assimilating_views.md §5.2, Example 2 (tau = alpha = 0.5)
Z1 = torch.tensor([[1., 0.], [.6, .8]])
Z2 = torch.tensor([[.8, .6], [0., 1.]])
Z3 = torch.tensor([[1., 0.], [1., 0.]])


def _build(cfg):
    with DefaultScope.overwrite_default_scope('mmmix'):
        return MODELS.build(cfg)


def test_registered_and_reference_values():
    infonce = _build(dict(type='CrossViewInfoNCELoss', temperature=0.5))
    align = _build(dict(type='AlignmentLoss', alpha=0.5, temperature=0.5))
    first = _build(dict(type='AlignmentLoss', anchors='first'))
    full = _build(dict(type='A2FullLoss'))
    assert isinstance(infonce, CrossViewInfoNCELoss)
    assert isinstance(align, AlignmentLoss)
    assert isinstance(full, A2FullLoss)
    # the module returns the negative alignment: A2 = sum of the two
    torch.testing.assert_close(infonce(Z1, Z2) + align(Z1, Z2, Z3),
                               torch.tensor(-0.075103), atol=1e-6, rtol=0)
    torch.testing.assert_close(infonce(Z1, Z2) + first(Z1, None, Z3),
                               torch.tensor(-0.275103), atol=1e-6, rtol=0)
    torch.testing.assert_close(full(Z1, Z2, Z3), torch.tensor(1.710127),
                               atol=1e-6, rtol=0)


def test_loss_weight_scales_every_term():
    w = 0.5 / 0.07  # the SupContrast tau / base_tau factor
    pairs = [(CrossViewInfoNCELoss(), CrossViewInfoNCELoss(loss_weight=w),
              (Z1, Z2)),
             (AlignmentLoss(), AlignmentLoss(loss_weight=w), (Z1, Z2, Z3)),
             (A2FullLoss(), A2FullLoss(loss_weight=w), (Z1, Z2, Z3))]
    for plain, weighted, args in pairs:
        torch.testing.assert_close(weighted(*args), w * plain(*args))
    assert abs(w - 7.142857) < 1e-6


def test_alignment_loss_alpha_zero_and_bounds():
    z = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
    assert float(AlignmentLoss(alpha=0.)(z, z, z)) == 0.
    torch.testing.assert_close(AlignmentLoss(0.3, 0.2)(z, z, z),
                               torch.tensor(-1.5))
    torch.testing.assert_close(AlignmentLoss(0.3, 0.2)(z, z, -z),
                               torch.tensor(1.5))


def test_gradient_flows():
    z1, z2, g = (torch.randn(4, 3, requires_grad=True) for _ in range(3))
    (CrossViewInfoNCELoss()(z1, z2) + AlignmentLoss()(z1, z2, g)).backward()
    assert all(t.grad.abs().sum() > 0 for t in (z1, z2, g))


@pytest.mark.parametrize('cls,kw,match', [
    (CrossViewInfoNCELoss, dict(temperature=0.), 'temperature must be > 0'),
    (A2FullLoss, dict(loss_weight=-1.), 'loss_weight must be >= 0'),
    (AlignmentLoss, dict(alpha=-0.1), 'alpha must be >= 0'),
    (AlignmentLoss, dict(anchors='second'), 'anchors must be one of'),
])
def test_bad_arguments(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        cls(**kw)
