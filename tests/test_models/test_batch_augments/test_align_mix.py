from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmix.models.batch_augments import AlignMix
from mmmix.ops.align_mix import align_to, alignment_plan
from mmmix.registry import BATCH_AUGMENTS


def batch(n=8, c=16, h=4, w=4, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g).relu()
    y = F.one_hot(torch.arange(n) % k, k).float()
    return x, y


def test_registered_and_shapes():
    aug = BATCH_AUGMENTS.build(dict(type='AlignMix', alpha=2.0))
    assert isinstance(aug, AlignMix)
    x, y = batch()
    mixed, scores = aug(x, y)
    assert mixed.shape == x.shape and mixed.dtype == x.dtype
    torch.testing.assert_close(scores.sum(1), torch.ones(8))
    assert (scores >= 0).all() and torch.isfinite(mixed).all()
    x64, _ = batch()
    assert aug(x64.double(), y)[0].dtype == torch.float64


def test_lambda_one_and_zero_are_identities():
    x, y = batch()
    mixed, scores = AlignMix(lam=1.0, direction='a_to_b')(x, y)
    assert torch.equal(mixed, x) and torch.equal(scores, y)
    aug = AlignMix(lam=0.0, direction='b_to_a')
    mixed, scores = aug(x, y)
    idx = aug.last_index
    assert torch.equal(mixed, x[idx]) and torch.equal(scores, y[idx])
    # thesis formulation (3.13 after the swap): lam weighs the partner
    aug = AlignMix(lam=1.0, direction='b_to_a', formulation='thesis')
    mixed, scores = aug(x, y)
    assert torch.equal(mixed, x[aug.last_index])
    assert torch.equal(scores, y[aug.last_index])


def test_formulations_agree_with_lambda_swapped():
    x, y = batch()
    torch.manual_seed(0)
    off, s_off = AlignMix(lam=0.3, direction='b_to_a')(x, y)
    torch.manual_seed(0)
    the, s_the = AlignMix(lam=0.7, direction='b_to_a',
                          formulation='thesis')(x, y)
    torch.testing.assert_close(off, the)
    torch.testing.assert_close(s_off, s_the)


def test_same_lambda_and_permutation_for_features_and_labels():
    x, y = batch()
    aug = AlignMix(lam=0.3, direction='a_to_b')
    mixed, scores = aug(x, y)
    idx = aug.last_index
    assign, _ = alignment_plan(x, x[idx])
    torch.testing.assert_close(
        mixed, 0.3 * x + 0.7 * align_to(x[idx], assign))
    torch.testing.assert_close(scores, 0.3 * y + 0.7 * y[idx])


def test_self_alignment_is_the_identity():
    x, y = batch(n=4, c=32, h=3, w=3, seed=3)
    aug = AlignMix(eps=1e-3, max_iter=3000, stop_thr=1e-7,
                   stop_rule='marginal', direction='random')
    with mock.patch('torch.randperm', return_value=torch.arange(4)):
        for lam in (0.0, 0.4, 1.0):
            aug.lam = lam
            mixed, scores = aug(x, y)
            torch.testing.assert_close(mixed, x, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(scores, y)


def test_converged_or_renormalised_rows_give_convex_combinations():
    x, y = batch(seed=4)
    aug = AlignMix(lam=0.0, direction='a_to_b', row_renorm=True)
    mixed, _ = aug(x, y)
    partner = x[aug.last_index].flatten(2)
    lo = partner.amin(2, keepdim=True) - 1e-5
    hi = partner.amax(2, keepdim=True) + 1e-5
    flat = mixed.flatten(2)
    assert ((flat >= lo) & (flat <= hi)).all()


def test_gradients_flow_to_both_members_but_not_through_the_plan():
    x, y = batch()
    x.requires_grad_(True)
    aug = AlignMix(lam=0.25, direction='a_to_b')
    weight = torch.randn_like(x)
    torch.manual_seed(1)
    (aug(x, y)[0] * weight).sum().backward()
    grad = x.grad.clone()
    # the same with the plan as a constant computed beforehand
    x2 = x.detach().clone().requires_grad_(True)
    idx = aug.last_index
    assign, _ = alignment_plan(x2, x2[idx])
    out = 0.25 * x2 + 0.75 * align_to(x2[idx], assign)
    (out * weight).sum().backward()
    torch.testing.assert_close(grad, x2.grad)
    assert grad[idx].abs().sum() > 0


def test_seeded_determinism_and_direction_frequencies():
    x, y = batch(n=4, c=8, h=2, w=2)
    aug = AlignMix()
    outs = []
    for _ in range(2):
        torch.manual_seed(5)
        np.random.seed(5)
        outs.append(aug(x, y))
    assert torch.equal(outs[0][0], outs[1][0])
    assert torch.equal(outs[0][1], outs[1][1])
    np.random.seed(0)
    n, ups = 400, 0
    for _ in range(n):
        aug(x, y)
        ups += int(aug.last_info['direction'])
    # binomial(400, 0.5): std 10
    assert abs(ups - n / 2) < 40


def test_lambda_per_sample_and_logging_info():
    x, y = batch()
    np.random.seed(0)
    aug = AlignMix(lam_per_sample=True, direction='a_to_b')
    mixed, scores = aug(x, y)
    lam = scores[torch.arange(8), torch.arange(8) % 5]
    assert lam.unique().numel() > 1  # one lambda per example
    info = aug.last_info
    assert set(info) == {'lam', 'row_err', 'n_iter', 'direction'}
    assert all(torch.is_tensor(v) for v in info.values())


def test_batch_of_one_is_a_defined_self_pair():
    x, y = batch(n=1)
    mixed, scores = AlignMix()(x, y)
    assert torch.isfinite(mixed).all() and torch.equal(scores, y)


@pytest.mark.parametrize('kwargs, match', [
    (dict(alpha=0), 'alpha must be > 0'),
    (dict(eps=0.0), 'eps must be > 0'),
    (dict(eps=-1), 'eps must be > 0'),
    (dict(max_iter=0), 'max_iter'),
    (dict(direction='up'), 'direction'),
    (dict(formulation='paper'), 'formulation'),
    (dict(lam=1.5), r'lam must be in \[0, 1\]'),
    (dict(stop_rule='never'), 'stop_rule'),
    (dict(cost_norm='l1'), 'cost_norm'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AlignMix(**kwargs)


def test_bad_input():
    aug = AlignMix()
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        aug(torch.randn(4, 16), torch.eye(4))
    with pytest.raises(ValueError, match='max_positions'):
        aug(torch.randn(2, 1, 32, 33), torch.eye(2))
    with pytest.raises(ValueError, match='scores must be'):
        aug(torch.randn(2, 3, 2, 2), torch.eye(3))
