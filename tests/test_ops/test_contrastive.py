import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ContrastiveHead
from mmpretrain.models.losses import CosineSimilarityLoss

from mmmix.ops.contrastive import (
    cosine_pair_losses,
    mixed_pair_loss,
    nce_pair_losses,
)


def _unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


def test_nce_equals_contrastive_head():
    q, k = _unit(6, 8), _unit(6, 8, seed=1)
    queue = _unit(20, 8, seed=2).T  # (d, K), unit columns
    head = ContrastiveHead(loss=dict(type='CrossEntropyLoss'),
                           temperature=0.2)
    ref = head.loss((q * k).sum(1, keepdim=True), q @ queue)
    ours = nce_pair_losses(q, [k], queue, 0.2)
    assert ours.shape == (1, 6)
    torch.testing.assert_close(ours.mean(), ref, atol=1e-6, rtol=1e-6)


def test_nce_hand_computed_toy():
    # 2 queries, 1 positive each, a queue of 2 negatives: 3 logits per row
    q = torch.tensor([[1., 0.], [0., 1.]])
    k = torch.tensor([[1., 0.], [1., 0.]])
    queue = torch.tensor([[0., 1.], [1., 0.]])  # columns (0,1), (1,0)
    t = 0.5
    out = nce_pair_losses(q, k, queue, t)
    # row 0: logits [1, 0, 1] / t; row 1: [0, 1, 0] / t
    row0 = -2. + math.log(2 * math.exp(2.) + 1.)
    row1 = -0. + math.log(2 * math.exp(0.) + math.exp(2.))
    torch.testing.assert_close(out[0], torch.tensor([row0, row1]))


def test_nce_several_keys_and_fp16():
    q, queue = _unit(5, 16), _unit(16, 32, seed=3)
    keys = torch.stack([_unit(5, 16, seed=s) for s in (4, 5, 6)])
    out = nce_pair_losses(q, keys, queue, 0.07)
    for j in range(3):
        torch.testing.assert_close(out[j],
                                   nce_pair_losses(q, keys[j], queue,
                                                   0.07)[0])
    half = nce_pair_losses(q.half(), keys.half(), queue.half(), 0.07)
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    torch.testing.assert_close(half, out, atol=2e-2, rtol=1e-2)
    with pytest.raises(ValueError, match='temperature'):
        nce_pair_losses(q, keys, queue, 0.)


def test_cosine_mean_equals_mmpretrain_loss():
    p, t = torch.randn(7, 12), torch.randn(7, 12)
    for shift, scale in ((2., 2.), (0., 1.)):
        ref = CosineSimilarityLoss(shift, scale)(p, t)
        out = cosine_pair_losses(p, [t], shift, scale)
        torch.testing.assert_close(out.mean(), ref)


def test_mixed_pair_loss_properties():
    losses = torch.rand(2, 9)
    one, zero = torch.ones(9), torch.zeros(9)
    torch.testing.assert_close(mixed_pair_loss(losses, one),
                               losses[0].mean())
    torch.testing.assert_close(mixed_pair_loss(losses, zero),
                               losses[1].mean())
    lam = torch.rand(9)
    # linear in lam
    mid = mixed_pair_loss(losses, 0.5 * lam + 0.5 * one)
    torch.testing.assert_close(
        mid, 0.5 * mixed_pair_loss(losses, lam) + 0.5 * losses[0].mean())
    # equal positives: independent of lam
    same = losses[:1].expand(2, -1)
    torch.testing.assert_close(mixed_pair_loss(same, lam), losses[0].mean())


def test_gradient_reaches_query_only():
    q = _unit(4, 8).requires_grad_()
    keys = _unit(2, 4, 8, seed=1)
    queue = _unit(8, 10, seed=2)
    mixed_pair_loss(nce_pair_losses(q, keys, queue, 0.2),
                    torch.rand(4)).backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
