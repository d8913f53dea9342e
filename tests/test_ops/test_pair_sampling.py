"""InterCLR pair samplers against brute-force Python and chi-square tests.

Spec ``interclr.md`` §3.3, unit U5, ambiguities A4 and A15. The bank is
small (n = 200, d = 8) with five clusters of sizes 80, 50, 40, 29 and 1.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import chisquare

from mmmix.ops import (
    NEGATIVE_STRATEGIES,
    cluster_table,
    draw_cluster_positives,
    draw_random_negatives,
    gather_scores,
    momentum_update,
    sample_negatives,
)

N, D = 200, 8
SIZES = (80, 50, 40, 29, 1)
P_MIN = 1e-3  # generous: a correct sampler fails this once in 1000 seeds


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope='module')
def bank():
    g = gen(0)
    labels = torch.cat([torch.full((s, ), c) for c, s in enumerate(SIZES)])
    labels = labels[torch.randperm(N, generator=g)]  # interleaved clusters
    feats = torch.randn(N, D, generator=g)
    feats = feats / feats.norm(dim=1, keepdim=True)
    return dict(labels=labels, feats=feats, table=cluster_table(labels))


def members_of(labels, c):
    return [j for j, lab in enumerate(labels.tolist()) if lab == c]


def anchor_of(labels, c):
    return members_of(labels, c)[0]


def uniform_p(draws, support):
    """Chi-square p-value of ``draws`` against uniform over ``support``;
    asserts nothing falls outside it."""
    draws = draws.reshape(-1).tolist()
    index = {j: t for t, j in enumerate(support)}
    counts = np.zeros(len(support))
    for j in draws:
        assert j in index, f'{j} outside the support'
        counts[index[j]] += 1
    return chisquare(counts).pvalue, counts


def queries(bank, idx, seed=1):
    """Anchors' queries: their bank row plus noise, normalised; ``sim`` to
    the whole bank, continuous so that no two entries tie."""
    q = bank['feats'][idx] + 0.5 * torch.randn(len(idx), D,
                                               generator=gen(seed))
    q = q / q.norm(dim=1, keepdim=True)
    return q, q @ bank['feats'].t()


# --------------------------------------------------------------------------
# positives
# --------------------------------------------------------------------------


@pytest.mark.parametrize('exclude_self', [False, True])
def test_positive_shares_label(bank, exclude_self):
    labels = bank['labels']
    idx = torch.arange(N).repeat(5)
    pos = draw_cluster_positives(bank['table'], idx, exclude_self, gen(2))
    assert pos.shape == idx.shape and pos.dtype == torch.int64
    assert torch.equal(labels[pos], labels[idx])


def test_positive_exclude_self(bank):
    labels = bank['labels']
    single = anchor_of(labels, 4)
    idx = torch.arange(N).repeat(10)
    pos = draw_cluster_positives(bank['table'], idx, True, gen(3))
    for i, p in zip(idx.tolist(), pos.tolist()):
        if i == single:
            assert p == i  # singleton cluster falls back to self
        else:
            assert p != i


def test_positive_self_allowed_by_default(bank):
    single = anchor_of(bank['labels'], 4)
    pos = draw_cluster_positives(bank['table'], torch.tensor([single]))
    assert pos.tolist() == [single]
    anchor = anchor_of(bank['labels'], 3)  # cluster of 29
    pos = draw_cluster_positives(bank['table'],
                                 torch.full((600, ), anchor),
                                 generator=gen(4))
    assert (pos == anchor).any()


@pytest.mark.parametrize('exclude_self', [False, True])
@pytest.mark.parametrize('cluster', [0, 3])
def test_positive_uniform_over_cluster(bank, exclude_self, cluster):
    labels = bank['labels']
    anchor = anchor_of(labels, cluster)
    support = members_of(labels, cluster)
    if exclude_self:
        support.remove(anchor)
    draws = draw_cluster_positives(bank['table'],
                                   torch.full((60 * len(support), ), anchor),
                                   exclude_self, gen(5 + cluster))
    p, counts = uniform_p(draws, support)
    assert p > P_MIN and counts.min() > 0


def test_positive_deterministic(bank):
    idx = torch.arange(N)
    a = draw_cluster_positives(bank['table'], idx, True, gen(6))
    b = draw_cluster_positives(bank['table'], idx, True, gen(6))
    c = draw_cluster_positives(bank['table'], idx, True, gen(7))
    assert torch.equal(a, b) and not torch.equal(a, c)


# --------------------------------------------------------------------------
# random negatives
# --------------------------------------------------------------------------


def test_random_negatives_shape_and_label(bank):
    labels = bank['labels']
    idx = torch.arange(N)
    neg = draw_random_negatives(bank['table'], idx, 16, gen(8))
    assert neg.shape == (N, 16) and neg.dtype == torch.int64
    assert bool((labels[neg] != labels[idx][:, None]).all())
    assert int(neg.min()) >= 0 and int(neg.max()) < N


@pytest.mark.parametrize('cluster', range(5))
def test_random_negatives_uniform_over_complement(bank, cluster):
    labels = bank['labels']
    anchor = anchor_of(labels, cluster)
    support = [j for j in range(N) if labels[j] != cluster]
    neg = draw_random_negatives(bank['table'], torch.tensor([anchor]),
                                25 * len(support), gen(9 + cluster))
    assert neg.shape == (1, 25 * len(support))
    p, counts = uniform_p(neg, support)
    assert p > P_MIN and counts.min() > 0


def test_random_negatives_deterministic(bank):
    idx = torch.arange(0, N, 7)
    a = draw_random_negatives(bank['table'], idx, 9, gen(10))
    b = draw_random_negatives(bank['table'], idx, 9, gen(10))
    assert torch.equal(a, b)


def test_random_negatives_all_equal_labels_raise():
    table = cluster_table(torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError):
        draw_random_negatives(table, torch.tensor([0, 3]), 4)


# --------------------------------------------------------------------------
# sample_negatives: hard
# --------------------------------------------------------------------------


def brute_sorted_others(sim_row, labels, anchor_label, largest=True):
    others = [j for j in range(len(labels)) if labels[j] != anchor_label]
    return sorted(others, key=lambda j: float(sim_row[j]),
                  reverse=largest)


def test_hard_is_brute_force_top_k(bank):
    labels = bank['labels']
    idx = torch.tensor([anchor_of(labels, c) for c in range(5)] + [7, 99])
    _, sim = queries(bank, idx)
    num = 12
    neg = sample_negatives(sim, labels, labels[idx], num, 'hard')
    assert neg.shape == (len(idx), num)
    for r in range(len(idx)):
        ref = brute_sorted_others(sim[r].tolist(), labels.tolist(),
                                  int(labels[idx[r]]))[:num]
        assert neg[r].tolist() == ref  # exactly, best first


def small_bank():
    """n = 20: cluster 0 has 17 rows, cluster 1 has 3."""
    perm = torch.randperm(20, generator=gen(11))
    labels = torch.tensor([0] * 17 + [1] * 3)[perm]
    sim = torch.rand(2, 20, generator=gen(12))
    idx = torch.tensor([anchor_of(labels, 0), anchor_of(labels, 1)])
    return labels, sim, idx


def test_hard_fallback_only_for_missing():
    labels, sim, idx = small_bank()
    table = cluster_table(labels)
    num = 5
    neg = sample_negatives(sim, labels, labels[idx], num, 'hard',
                           table=table, idx=idx, generator=gen(13))
    assert neg.shape == (2, num)
    assert bool((labels[neg] != labels[idx][:, None]).all())
    # cluster-0 anchor: 3 negatives exist; they come first, best first
    ref0 = brute_sorted_others(sim[0].tolist(), labels.tolist(), 0)
    assert len(ref0) == 3 and neg[0, :3].tolist() == ref0
    # cluster-1 anchor has 17 negatives: no fallback at all
    ref1 = brute_sorted_others(sim[1].tolist(), labels.tolist(), 1)[:num]
    assert neg[1].tolist() == ref1
    with pytest.raises(ValueError):
        sample_negatives(sim, labels, labels[idx], num, 'hard')


def test_hard_num_larger_than_bank_raises(bank):
    _, sim = queries(bank, [0])
    with pytest.raises(ValueError):
        sample_negatives(sim, bank['labels'], bank['labels'][:1], N + 1,
                         'hard')


# --------------------------------------------------------------------------
# sample_negatives: semihard / semieasy
# --------------------------------------------------------------------------


@pytest.mark.parametrize('strategy', ['semihard', 'semieasy'])
def test_pool_strategies_pick_inside_brute_force_pool(bank, strategy):
    labels = bank['labels']
    idx = torch.tensor([anchor_of(labels, c) for c in range(5)] +
                       list(range(0, N, 17)))
    _, sim = queries(bank, idx, seed=14)
    num, pool = 6, 20
    largest = strategy == 'semihard'
    for seed in range(5):
        neg = sample_negatives(sim, labels, labels[idx], num, strategy,
                               pool_size=pool, generator=gen(seed))
        assert neg.shape == (len(idx), num) and neg.dtype == torch.int64
        for r in range(len(idx)):
            ref = brute_sorted_others(sim[r].tolist(), labels.tolist(),
                                      int(labels[idx[r]]), largest)[:pool]
            row = neg[r].tolist()
            assert set(row) <= set(ref)
            assert len(set(row)) == num  # distinct
            assert all(labels[j] != labels[idx[r]] for j in row)


@pytest.mark.parametrize('strategy', ['semihard', 'semieasy'])
def test_pool_strategies_uniform_over_pool(bank, strategy):
    labels = bank['labels']
    anchor = anchor_of(labels, 1)
    _, sim = queries(bank, [anchor], seed=15)
    rows, num, pool = 600, 4, 24
    sim = sim.repeat(rows, 1)
    neg = sample_negatives(sim, labels, labels[[anchor] * rows], num,
                           strategy, pool_size=pool, generator=gen(16))
    ref = brute_sorted_others(sim[0].tolist(), labels.tolist(), 1,
                              strategy == 'semihard')[:pool]
    # within a row the draw is without replacement, which only lowers the
    # variance: the chi-square test is conservative
    p, counts = uniform_p(neg, ref)
    assert p > P_MIN and counts.min() > 0


def test_pool_of_positives_terminates_with_valid_negatives(bank):
    """The released code's rejection loop spins when the top-P of the whole
    bank holds only positives (P < cluster size); here it must return
    negatives from the top-P other-cluster rows."""
    labels = bank['labels']
    idx = torch.tensor(members_of(labels, 0)[:4])  # cluster of 80
    _, sim = queries(bank, idx, seed=17)
    sim = sim + 10. * (labels[None] == 0).float()  # positives rank first
    num, pool = 5, 10
    for strategy, largest in (('semihard', True), ('hard', True)):
        neg = sample_negatives(sim, labels, labels[idx], num, strategy,
                               pool_size=pool, generator=gen(18))
        assert bool((labels[neg] != 0).all())
        for r in range(len(idx)):
            ref = brute_sorted_others(sim[r].tolist(), labels.tolist(), 0,
                                      largest)[:pool]
            assert set(neg[r].tolist()) <= set(ref)


@pytest.mark.parametrize('strategy', ['semihard', 'semieasy'])
def test_pool_with_too_few_negatives_falls_back(strategy):
    labels, sim, idx = small_bank()
    table = cluster_table(labels)
    num, pool = 5, 10
    neg = sample_negatives(sim, labels, labels[idx], num, strategy,
                           pool_size=pool, table=table, idx=idx,
                           generator=gen(19))
    assert neg.shape == (2, num)
    assert bool((labels[neg] != labels[idx][:, None]).all())
    # cluster-0 anchor: all three real negatives are picked, distinct
    three = members_of(labels, 1)
    assert set(three) <= set(neg[0].tolist())
    # cluster-1 anchor: a normal pool draw
    ref = brute_sorted_others(sim[1].tolist(), labels.tolist(), 1,
                              strategy == 'semihard')[:pool]
    assert set(neg[1].tolist()) <= set(ref)
    assert len(set(neg[1].tolist())) == num
    with pytest.raises(ValueError, match='table'):
        sample_negatives(sim, labels, labels[idx], num, strategy,
                         pool_size=pool)


def test_pool_size_validation(bank):
    labels = bank['labels']
    _, sim = queries(bank, [0])
    for bad in (None, 3, N + 1):
        with pytest.raises(ValueError, match='pool_size'):
            sample_negatives(sim, labels, labels[:1], 4, 'semihard',
                             pool_size=bad)
    # the bounds themselves are accepted
    for ok in (4, N):
        sample_negatives(sim, labels, labels[:1], 4, 'semieasy',
                         pool_size=ok)


@pytest.mark.parametrize('strategy', ['semihard', 'semieasy', 'random'])
def test_sample_negatives_deterministic(bank, strategy):
    labels = bank['labels']
    idx = torch.arange(0, N, 9)
    _, sim = queries(bank, idx)
    kw = dict(pool_size=30, table=bank['table'], idx=idx)
    a = sample_negatives(sim, labels, labels[idx], 8, strategy,
                         generator=gen(20), **kw)
    b = sample_negatives(sim, labels, labels[idx], 8, strategy,
                         generator=gen(20), **kw)
    c = sample_negatives(sim, labels, labels[idx], 8, strategy,
                         generator=gen(21), **kw)
    assert torch.equal(a, b) and not torch.equal(a, c)


# --------------------------------------------------------------------------
# sample_negatives: random / argument checks
# --------------------------------------------------------------------------


def test_random_strategy_with_table(bank):
    labels = bank['labels']
    idx = torch.arange(N)
    neg = sample_negatives(None, labels, labels[idx], 7, 'random',
                           table=bank['table'], idx=idx, generator=gen(22))
    assert neg.shape == (N, 7)
    assert bool((labels[neg] != labels[idx][:, None]).all())
    with pytest.raises(ValueError, match='table'):
        sample_negatives(None, labels, labels[idx], 7, 'random')


def test_bad_strategy_and_num(bank):
    labels = bank['labels']
    _, sim = queries(bank, [0])
    with pytest.raises(ValueError) as err:
        sample_negatives(sim, labels, labels[:1], 4, 'easy', pool_size=10)
    for name in ('random', 'hard', 'semihard', 'semieasy'):
        assert name in str(err.value)
    assert set(NEGATIVE_STRATEGIES) == {'random', 'hard', 'semihard',
                                        'semieasy'}
    with pytest.raises(ValueError):
        sample_negatives(sim, labels, labels[:1], 0, 'hard')


# --------------------------------------------------------------------------
# gather_scores
# --------------------------------------------------------------------------


def test_gather_scores_matches_sim_gather_with_grad(bank):
    """Row gathering agrees with gathering from the full ``q @ bank.T``
    (values and the gradient w.r.t. the query) and with Python loops."""
    b, m = 6, 5
    feats = bank['feats'].double()
    index = torch.randint(0, N, (b, m), generator=gen(23))
    q0 = torch.randn(b, D, generator=gen(24), dtype=torch.float64)
    w = torch.randn(b, m, generator=gen(25), dtype=torch.float64)
    q1 = q0.clone().requires_grad_()
    q2 = q0.clone().requires_grad_()
    s1 = gather_scores(q1, feats, index)
    s2 = (q2 @ feats.t()).gather(1, index)
    assert s1.shape == (b, m)
    vals = s1.detach().tolist()
    for i in range(b):
        for j in range(m):
            ref = sum(a * c for a, c in zip(q0[i].tolist(),
                                            feats[index[i, j]].tolist()))
            assert abs(vals[i][j] - ref) < 1e-10
    torch.testing.assert_close(s1, s2)
    g1, = torch.autograd.grad((w * s1).sum(), q1)
    g2, = torch.autograd.grad((w * s2).sum(), q2)
    # analytic gradient: sum_j w_ij bank[index_ij]
    ref = torch.stack([(w[i][:, None] * feats[index[i]]).sum(0)
                       for i in range(b)])
    torch.testing.assert_close(g1, g2)
    torch.testing.assert_close(g1, ref)
    assert feats.grad is None


def test_gather_scores_grad_survives_in_place_bank_update(bank):
    """The bank is written (momentum update) between the forward and the
    backward pass of one step: the gradient must use the rows read in the
    forward."""
    feats = bank['feats'].clone()
    index = torch.tensor([[1, 2], [2, 3]])
    rows = feats[index].clone()
    q = torch.randn(2, D, generator=gen(27), requires_grad=True)
    s = gather_scores(q, feats, index)
    momentum_update(feats, torch.tensor([1, 2, 3]),
                    torch.randn(3, D, generator=gen(28)), 1.0)
    assert not torch.equal(feats[index], rows)
    g, = torch.autograd.grad(s.sum(), q)
    torch.testing.assert_close(g, rows.sum(1))


def test_gather_scores_one_dim_index(bank):
    feats = bank['feats']
    q = torch.randn(4, D, generator=gen(26))
    index = torch.tensor([3, 0, 199, 50])
    s = gather_scores(q, feats, index)
    assert s.shape == (4, 1)
    ref = torch.stack([q[i] @ feats[index[i]] for i in range(4)])[:, None]
    torch.testing.assert_close(s, ref)


def test_gather_scores_from_sim_matches_row_gather_and_gradient():
    g = torch.Generator().manual_seed(7)
    bank = F.normalize(torch.randn(50, 6, generator=g), dim=1)
    index = torch.randint(50, (3, 9), generator=g)
    q1 = torch.randn(3, 6, generator=g).requires_grad_()
    q2 = q1.detach().clone().requires_grad_()
    w = torch.randn(3, 9, generator=g)
    rows = gather_scores(q1, bank, index)
    dense = gather_scores(q2, bank, index, sim=q2 @ bank.t())
    torch.testing.assert_close(dense, rows)
    (rows * w).sum().backward()
    (dense * w).sum().backward()
    torch.testing.assert_close(q2.grad, q1.grad)
    # a 1-D index through the sim path too
    assert gather_scores(q2, bank, index[:, 0],
                         sim=q2 @ bank.t()).shape == (3, 1)
