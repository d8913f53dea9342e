import math

import pytest
import torch

from mmmix.ops.dino import (
    clip_grad_per_param_,
    distillation_cross_entropy,
    dora_pair_weights,
    multicrop_pair_weights,
    split_views,
    teacher_temperature,
)


def test_teacher_temperature_schedule():
    # DINO: linspace(0.04, 0.07, 30) then 0.07
    vals = [teacher_temperature(e, 0.07, 0.04, 30) for e in (0, 15, 29, 30,
                                                             99)]
    assert vals[0] == pytest.approx(0.04)
    assert vals[1] == pytest.approx(0.04 + 0.03 * 15 / 29)
    assert vals[2] == pytest.approx(0.07)
    assert vals[3] == vals[4] == pytest.approx(0.07)
    # DoRA's code: 0.04 -> 0.04, a constant
    assert all(teacher_temperature(e, 0.04, 0.04, 30) == pytest.approx(0.04)
               for e in (0, 15, 29, 30, 99))
    assert teacher_temperature(0, 0.07, 0.04, 0) == pytest.approx(0.07)
    with pytest.raises(ValueError, match='warmup_epochs'):
        teacher_temperature(0, warmup_epochs=-1)


def test_cross_entropy_hand_computed():
    # one pair, 3 classes: H(q, p) = -sum q log p
    q = torch.tensor([[[0.5, 0.3, 0.2]]])
    z = torch.tensor([[[1., 2., 3.]]])
    p = torch.softmax(z / 0.5, -1)
    expect = -(q * p.log()).sum()
    got = distillation_cross_entropy(q, z, torch.ones(1, 1), 0.5)
    assert got.item() == pytest.approx(expect.item(), rel=1e-6)


def test_cross_entropy_equals_teacher_entropy_when_equal():
    q = torch.softmax(torch.randn(1, 5, 7), -1)
    z = q.log() * 0.1  # softmax(z / 0.1) == q
    got = distillation_cross_entropy(q, z, torch.ones(1, 1), 0.1)
    ent = -(q * q.log()).sum(-1).mean()
    assert got.item() == pytest.approx(ent.item(), rel=1e-5)


def test_cross_entropy_matches_pair_loop():
    g = torch.Generator().manual_seed(0)
    q = torch.softmax(torch.randn(2, 4, 6, generator=g), -1)
    z = torch.randn(5, 4, 6, generator=g)
    w = multicrop_pair_weights(2, 5)
    loop, n = 0., 0
    for u in range(2):
        for v in range(5):
            if u == v:
                continue
            loop += -(q[u] * torch.log_softmax(z[v] / 0.1, -1)).sum(-1).mean()
            n += 1
    got = distillation_cross_entropy(q, z, w, 0.1)
    assert n == 2 * 5 - 2
    assert got.item() == pytest.approx((loop / n).item(), rel=1e-5)
    with pytest.raises(ValueError, match='shape mismatch'):
        distillation_cross_entropy(q, z[:, :3], w)


def test_multicrop_pair_weights_skip_same_view():
    w = multicrop_pair_weights(2, 10)
    assert w[0, 0] == 0 and w[1, 1] == 0
    assert w.sum().item() == pytest.approx(1.)
    assert (w > 0).sum() == 18
    with pytest.raises(ValueError, match='num_teacher'):
        multicrop_pair_weights(3, 2)
    with pytest.raises(ValueError, match='different views'):
        multicrop_pair_weights(1, 1)


def _legacy_reference(mask, loc, T):
    """The released code's loop, literally: mask[j][t], loc[v][t]."""
    k, m = len(mask), len(loc)
    total, F = 0., 0.
    for j in range(k):
        for t in range(T):
            loc_t = sum(loc[v][t] for v in range(1, m)) / (m - 1)
            F += 0.5 * (mask[j][t] + loc_t)
        F /= T
        total += F
    return total / k


def test_dora_weights_legacy_code_match_the_loop():
    # per-(view, frame) cross-entropies; weights act on frame means
    T, k, m = 4, 3, 3
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(k, T, generator=g).tolist()
    loc = torch.rand(m, T, generator=g).tolist()
    w = dora_pair_weights(1, k, m, 'legacy_code', num_frames=T)
    terms = torch.tensor([sum(r) / T for r in mask] +
                         [sum(r) / T for r in loc])
    got = (w[0].double() * terms.double()).sum().item()
    assert got == pytest.approx(_legacy_reference(mask, loc, T), rel=1e-6)
    assert w[0, k] == 0  # local crop 0 gets no gradient in the code
    with pytest.raises(ValueError, match='legacy_code'):
        dora_pair_weights(2, k, m, 'legacy_code')


def test_dora_weights_clean_and_thesis_sum():
    w = dora_pair_weights(1, 3, 2, 'clean')
    assert torch.allclose(w, torch.tensor([[1 / 6] * 3 + [1 / 4] * 2]))
    w2 = dora_pair_weights(2, 3, 2, 'clean')
    # student order: (v=0, i=0..2), (v=1, i=0..2), locals
    assert torch.all(w2[0, :3] == 0) and torch.all(w2[1, 3:6] == 0)
    assert w2[0, 3:6].sum().item() == pytest.approx(0.25)
    assert w2[:, 6:].sum().item() == pytest.approx(0.5)
    assert w2.sum().item() == pytest.approx(1.)
    ws = dora_pair_weights(2, 3, 2, 'thesis_sum')
    assert ws.sum().item() == pytest.approx(2 * 3 + 2 * 2)
    assert set(ws.unique().tolist()) == {0., 1.}
    w0 = dora_pair_weights(1, 2, 0, 'clean')
    assert torch.allclose(w0, torch.tensor([[0.5, 0.5]]))
    for bad, match in ((dict(mode='x'), 'loss_mode'),
                       (dict(num_global=3), 'num_global_views'),
                       (dict(num_objects=0), 'num_objects')):
        kw = dict(num_global=1, num_objects=3, num_local=2)
        kw.update(bad)
        with pytest.raises(ValueError, match=match):
            dora_pair_weights(**kw)


def test_clip_grad_per_param():
    a = torch.nn.Parameter(torch.zeros(3))
    b = torch.nn.Parameter(torch.zeros(2, 2))
    c = torch.nn.Parameter(torch.zeros(1))
    a.grad = torch.tensor([3., 4., 0.])  # norm 5 -> 3
    b.grad = torch.full((2, 2), 0.5)  # norm 1: untouched
    clip_grad_per_param_([a, b, c], 3.0)
    assert a.grad.norm().item() == pytest.approx(3.0, rel=1e-5)
    assert torch.allclose(a.grad, torch.tensor([3., 4., 0.]) * 3 / 5,
                          rtol=1e-5)
    assert torch.equal(b.grad, torch.full((2, 2), 0.5))
    assert c.grad is None
    assert math.isclose(max(p.grad.norm().item() for p in (a, b)), 3.,
                        rel_tol=1e-5)


def test_split_views_groups_equal_sizes():
    v = [torch.zeros(1, 3, 8, 8)] * 2 + [torch.zeros(1, 3, 4, 4)] * 3
    assert split_views(v) == [(0, 2), (2, 5)]
