import math

import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import distances, losses, reducers

from mmmix.ops.metrix import (
    gram_trick_applies,
    hardest_negatives,
    loss_kind,
    mix,
    mixed_unit_similarity_terms,
    mixing_pairs,
    sample_lam,
    soft_label_loss,
    soft_labels,
    unit_similarity_to_distance,
)

B, C, D = 12, 4, 6


def batch(seed=0, b=B, c=C, d=D):
    g = torch.Generator().manual_seed(seed)
    emb = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64),
                      dim=1)
    labels = torch.arange(b) % c
    return emb.requires_grad_(), labels


PAIR_LOSSES = {
    'contrastive': lambda: losses.ContrastiveLoss(neg_margin=0.5),
    'contrastive-cos-sum': lambda: losses.ContrastiveLoss(
        pos_margin=1, neg_margin=0.3, distance=distances.CosineSimilarity(),
        reducer=reducers.SumReducer()),
    'contrastive-mean': lambda: losses.ContrastiveLoss(
        neg_margin=0.8, reducer=reducers.MeanReducer()),
    'ms': lambda: losses.MultiSimilarityLoss(alpha=18, beta=75, base=0.77),
    'ms-default': lambda: losses.MultiSimilarityLoss(),
    'lifted': lambda: losses.GeneralizedLiftedStructureLoss(
        neg_margin=0.5, distance=distances.CosineSimilarity()),
    'lifted-lp': lambda: losses.GeneralizedLiftedStructureLoss(neg_margin=1),
    'nca': lambda: losses.NCALoss(softmax_scale=3),
}
PROXY_LOSSES = {
    'proxy-anchor': lambda: losses.ProxyAnchorLoss(C, D, margin=0.1,
                                                   alpha=32),
    'proxy-nca++': lambda: losses.ProxyNCALoss(C, D, softmax_scale=9),
    'proxy-nca': lambda: losses.ProxyNCALoss(C, D),
}


def grads(value, *tensors):
    return torch.autograd.grad(value, tensors, allow_unused=True)


@pytest.mark.parametrize('name', PAIR_LOSSES)
def test_hard_labels_reproduce_pml_pair_losses(name):
    # the mixed path with v = clean embeddings, 0/1 labels and all
    # off-diagonal pairs is the PML loss: values and gradients, float64
    loss = PAIR_LOSSES[name]()
    emb, labels = batch()
    ref = loss(emb, labels)
    y = (labels[:, None] == labels[None]).double()
    support = ~torch.eye(B, dtype=torch.bool)
    ours = soft_label_loss(loss, emb, emb, y, support, anchor_labels=labels)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(grads(ours, emb)[0], grads(ref, emb)[0])


@pytest.mark.parametrize('name', PROXY_LOSSES)
def test_hard_labels_reproduce_pml_proxy_losses(name):
    torch.manual_seed(0)
    loss = PROXY_LOSSES[name]().double()
    emb, labels = batch(1)
    ref = loss(emb, labels)
    y = F.one_hot(labels, C).double()
    ours = soft_label_loss(loss, None, emb, y)
    torch.testing.assert_close(ours, ref)
    g_ours = grads(ours, emb, loss.proxies)
    g_ref = grads(ref, emb, loss.proxies)
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b)


def test_contrastive_soft_closed_form_4_12():
    # cosine contrastive with a sum reducer: sum -lam s + (1-lam)[s-m]_+
    # (PML's pos term is relu(1 - s) = 1 - s, a constant away from -s)
    loss = losses.ContrastiveLoss(
        pos_margin=1, neg_margin=0.2, distance=distances.CosineSimilarity(),
        reducer=reducers.SumReducer())
    emb, labels = batch(2)
    v = F.normalize(torch.randn(7, D, dtype=torch.float64), dim=1)
    lam = torch.rand(7, dtype=torch.float64)
    y = lam.expand(B, 7)
    ours = soft_label_loss(loss, emb, v, y)
    s = emb @ v.t()
    expected = (y * (1 - s) + (1 - y) * F.relu(s - 0.2)).sum()
    torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize('lam_mode', ['batch', 'pair'])
def test_ms_soft_closed_form_4_13(lam_mode):
    a_, g_, m = 18.0, 75.0, 0.77
    loss = losses.MultiSimilarityLoss(alpha=a_, beta=g_, base=m)
    emb, labels = batch(3)
    v = F.normalize(emb[:5].detach() + 0.3 * torch.randn(5, D).double(),
                    dim=1)
    lam = sample_lam(2.0, 5, lam_mode).double().expand(5)
    y = lam.expand(B, 5)
    ours = soft_label_loss(loss, emb, v, y)
    s = emb @ v.t()
    pos = (y * torch.exp(-a_ * (s - m))).sum(1)
    neg = ((1 - y) * torch.exp(g_ * (s - m))).sum(1)
    per_anchor = torch.log1p(pos) / a_ + torch.log1p(neg) / g_
    torch.testing.assert_close(ours, per_anchor.mean())


def test_lam_one_positive_negative_keeps_only_the_positive_term():
    # lam = 1: v = the positive, label 1, negative weights 0; on a balanced
    # batch every positive appears |N(a)| times, so the AvgNonZero mean is
    # PML's positive term alone
    loss = losses.ContrastiveLoss(neg_margin=0.5)
    emb, labels = batch(4)
    i, j, mask = mixing_pairs(labels, 'pos_neg')
    v = mix(emb, i, j, 1.0)
    y = soft_labels(labels, labels, i, j, 1.0).double()
    ours = soft_label_loss(loss, emb, v, y, mask)
    pos_only = losses.ContrastiveLoss(neg_margin=0.5)
    a1, p = torch.where((labels[:, None] == labels[None]) & ~torch.eye(
        B, dtype=torch.bool))
    empty = torch.empty(0, dtype=torch.long)
    ref = pos_only(emb, labels, (a1, p, empty, empty))
    torch.testing.assert_close(ours, ref)
    # lam = 0: v = the negative, label 0: the negative term alone
    v0 = mix(emb, i, j, 0.0)
    y0 = soft_labels(labels, labels, i, j, 0.0).double()
    ours0 = soft_label_loss(loss, emb, v0, y0, mask)
    a2, n = torch.where(labels[:, None] != labels[None])
    ref0 = pos_only(emb, labels, (empty, empty, a2, n))
    torch.testing.assert_close(ours0, ref0)


def test_pair_counts_of_a_balanced_batch():
    labels = torch.arange(20).repeat_interleave(5)
    i, j, mask = mixing_pairs(labels, 'pos_neg')
    assert len(i) == 100 * 95 and int(mask.sum()) == 38000
    i2, j2, mask2 = mixing_pairs(labels, 'anc_neg')
    assert len(i2) == 9500 and int(mask2.sum()) == 9500
    assert (labels[i] != labels[j]).all()
    # pos-neg: anchor and I share a class, J is a negative
    a, k = mask.nonzero(as_tuple=True)
    assert (labels[a] == labels[i[k]]).all() and (a != i[k]).all()
    assert (labels[a] != labels[j[k]]).all()
    a2, k2 = mask2.nonzero(as_tuple=True)
    assert (a2 == i2[k2]).all()


@pytest.mark.parametrize('mode, value', [('pos_neg', 'lam'),
                                         ('anc_neg', 'lam'),
                                         ('pos_pos', 1.0),
                                         ('neg_neg', 0.0)])
def test_every_masked_term_has_the_label_of_its_mode(mode, value):
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 3])
    i, j, mask = mixing_pairs(labels, mode)
    assert mask.any()
    y = soft_labels(labels, labels, i, j, 0.3)
    expected = 0.3 if value == 'lam' else value
    assert torch.allclose(y[mask], torch.tensor(expected))


def test_hard_negatives_and_edge_cases():
    emb, labels = batch(5)
    sim = emb.detach() @ emb.detach().t()
    hard = hardest_negatives(sim, labels, 2)
    assert (hard.sum(1) == 2).all()
    for a in range(B):
        negs = (labels != labels[a]).nonzero().flatten()
        top = negs[sim[a, negs].topk(2).indices]
        assert set(hard[a].nonzero().flatten().tolist()) == set(top.tolist())
    i, j, mask = mixing_pairs(labels, 'pos_neg', hard_k=2, sim=sim)
    a, k = mask.nonzero(as_tuple=True)
    assert hard[a, j[k]].all()
    with pytest.raises(ValueError, match='hard_k=10 exceeds the 9'):
        mixing_pairs(labels, 'pos_neg', hard_k=10, sim=sim)
    # no positives: pos-neg is empty, anc-neg is not
    distinct = torch.arange(6)
    assert len(mixing_pairs(distinct, 'pos_neg')[0]) == 0
    assert len(mixing_pairs(distinct, 'anc_neg')[0]) == 30
    # one class: nothing to mix
    assert len(mixing_pairs(torch.zeros(5, dtype=torch.long), 'anc_neg')[0]) \
        == 0
    # the official code's anc-neg: only anchors with no positive
    mixed = torch.tensor([0, 0, 1, 2])
    _, _, m = mixing_pairs(mixed, 'anc_neg', only_anchors_without_pos=True)
    assert m.any(1).tolist() == [False, False, True, True]
    with pytest.raises(ValueError, match='pair mode must be one of'):
        mixing_pairs(labels, 'pos_anc')


def test_empty_mixed_sets_give_a_zero_loss_without_nan():
    emb, labels = batch(6)
    for name in PAIR_LOSSES:
        loss = PAIR_LOSSES[name]()
        value = soft_label_loss(loss, emb, emb[:0], torch.zeros(B, 0).double(),
                                anchor_labels=labels)
        assert value.item() == 0
        value.backward()
        assert torch.isfinite(emb.grad).all()


def test_gram_similarity_equals_the_explicit_mixes():
    emb, labels = batch(7)
    i, j, mask = mixing_pairs(labels, 'pos_neg')
    a, k = mask.nonzero(as_tuple=True)
    for lam in (0.3, torch.rand(len(i), dtype=torch.float64)):
        explicit = emb @ F.normalize(mix(emb, i, j, lam), dim=1).t()
        torch.testing.assert_close(
            mixed_unit_similarity_terms(emb, i, j, lam, a, k),
            explicit[a, k])
    v = mix(emb, i, j, 0.6)
    for loss in (losses.ContrastiveLoss(), losses.MultiSimilarityLoss(),
                 losses.NCALoss()):
        assert gram_trick_applies(loss)
        sim = mixed_unit_similarity_terms(emb, i, j, 0.6, a, k)
        torch.testing.assert_close(unit_similarity_to_distance(loss, sim),
                                   loss.distance(emb, v)[a, k])
    assert not gram_trick_applies(losses.ContrastiveLoss(
        distance=distances.LpDistance(normalize_embeddings=False)))


def test_gradients_flow_to_both_constituents_and_the_anchors():
    loss = losses.MultiSimilarityLoss(alpha=18, beta=75, base=0.77)
    emb, labels = batch(8)
    i, j, mask = mixing_pairs(labels, 'pos_neg')
    for lam in (0.0, 1.0, 0.4):
        y = soft_labels(labels, labels, i, j, lam).double()
        value = soft_label_loss(loss, emb, mix(emb, i, j, lam), y, mask)
        g = grads(value, emb)[0]
        assert torch.isfinite(value) and torch.isfinite(g).all()
    # large scales do not overflow
    big = losses.MultiSimilarityLoss(alpha=200, beta=750, base=0.0)
    value = soft_label_loss(big, emb, emb, torch.full((B, B), 0.5).double())
    assert torch.isfinite(value)
    soft = torch.rand(B, B, dtype=torch.float64)
    torch.autograd.gradcheck(
        lambda e: soft_label_loss(loss, e, e.flip(0), soft),
        (emb.detach().clone().requires_grad_(), ))


def test_proxy_anchor_soft_labels_are_two_hot():
    torch.manual_seed(0)
    loss = PROXY_LOSSES['proxy-anchor']().double()
    emb, labels = batch(9)
    i, j, _ = mixing_pairs(labels, 'anc_neg')
    lam = 0.7
    y = soft_labels(torch.arange(C), labels, i, j, lam).t()   # (K, C)
    torch.testing.assert_close(y.sum(1), torch.ones(len(i)))
    v = mix(emb, i, j, lam)
    value = soft_label_loss(loss, None, v, y.double())
    # by hand: PA with weights y / 1 - y inside the exp-sums
    cos = F.normalize(v, dim=1) @ F.normalize(loss.proxies, dim=1).t()
    pos = torch.log1p((y * torch.exp(-32 * (cos - 0.1))).sum(0))
    neg = torch.log1p(((1 - y) * torch.exp(32 * (cos + 0.1))).sum(0))
    n_pos = int((y > 0).any(0).sum())
    torch.testing.assert_close(value, pos.sum() / n_pos + neg.sum() / C)


def test_unsupported_losses_are_refused_with_the_list():
    with pytest.raises(ValueError, match='TripletMarginLoss is not supported'
                       '.*ContrastiveLoss, MultiSimilarityLoss'):
        loss_kind(losses.TripletMarginLoss())
    with pytest.raises(ValueError, match='GeneralizedLiftedStructureLoss'):
        loss_kind(losses.LiftedStructureLoss())


def test_beta_two_two_statistics():
    torch.manual_seed(0)
    lam = sample_lam(2.0, 40000, 'pair')
    assert abs(lam.mean().item() - 0.5) < 0.01
    assert abs(lam.var().item() - 1 / 20) < 0.003
    assert sample_lam(2.0, 5, 'batch').dim() == 0
    assert math.isfinite(float(sample_lam(2.0, 1)))


@pytest.mark.parametrize('mode', ['pos_neg', 'anc_neg'])
def test_direct_terms_equal_the_dense_mask(mode):
    from mmmix.ops.metrix import _dense_mixing_pairs, mixing_terms
    g = torch.Generator().manual_seed(0)
    # uneven classes, singletons (anchors without positives) included
    labels = torch.randint(0, 9, (40, ), generator=g)
    i, j, a, k = mixing_terms(labels, mode)
    i2, j2, mask = _dense_mixing_pairs(labels, mode, None, None, False)
    assert torch.equal(i, i2) and torch.equal(j, j2)
    a2, k2 = mask.nonzero(as_tuple=True)
    assert sorted(zip(a.tolist(), k.tolist())) == sorted(
        zip(a2.tolist(), k2.tolist()))
