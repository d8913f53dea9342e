"""InterCLR pseudo-label maths against Python / numpy brute force.

Spec ``interclr.md`` §3.1-3.2, units U2 and U4, ambiguities A1, A2, A8.
Every expected value is computed by explicit loops, by hand, or with
``torch.cdist``; never with the module's own formulas.
"""
import math

import numpy as np
import pytest
import torch

from mmmix.ops import (
    ASSIGN_METRICS,
    assign_labels,
    check_cluster_setup,
    cluster_means,
    cluster_sizes,
    cluster_stats,
    momentum_update,
    repair_clusters,
)
from mmmix.ops.pseudo_labels import last_occurrence


def unit_rows(n, d, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return (x / x.norm(dim=1, keepdim=True)).to(dtype)


def py_normalize(v):
    norm = math.sqrt(sum(float(a) * float(a) for a in v))
    return [float(a) / norm for a in v]


def py_blend(old, new, w):
    """Eq. 2 with a normalised new feature, in float64 Python."""
    new = py_normalize(new)
    return py_normalize([(1 - w) * float(o) + w * n for o, n in zip(old,
                                                                     new)])


# --------------------------------------------------------------------------
# momentum_update / last_occurrence
# --------------------------------------------------------------------------


def test_momentum_one_replaces_with_normalised_feature():
    bank = unit_rows(10, 4)
    before = bank.clone()
    idx = torch.tensor([2, 5, 7])
    feats = 5 * torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    momentum_update(bank, idx, feats, 1.0)
    for j, i in enumerate(idx.tolist()):
        np.testing.assert_allclose(bank[i].tolist(),
                                   py_normalize(feats[j].tolist()),
                                   rtol=0, atol=1e-6)
    for i in set(range(10)) - set(idx.tolist()):
        assert torch.equal(bank[i], before[i])  # untouched: bit-exact


def test_momentum_half_orthogonal_is_mean_over_sqrt2():
    bank = torch.zeros(3, 2)
    bank[:, 0] = 1.  # every row e0
    momentum_update(bank, torch.tensor([1]), torch.tensor([[0., 3.]]), 0.5)
    s = 1 / math.sqrt(2)
    np.testing.assert_allclose(bank[1].tolist(), [s, s], atol=1e-7)
    assert bank[0].tolist() == [1., 0.] and bank[2].tolist() == [1., 0.]


@pytest.mark.parametrize('w', [0.05, 0.3, 0.5, 0.9, 1.0])
def test_momentum_matches_python_blend_and_keeps_unit_norm(w):
    n, d = 30, 6
    bank = unit_rows(n, d, seed=2)
    before = bank.clone()
    g = torch.Generator().manual_seed(3)
    idx = torch.randperm(n, generator=g)[:12]
    feats = torch.randn(12, d, generator=g) * torch.rand(12, 1, generator=g)
    uniq = momentum_update(bank, idx, feats, w)
    assert sorted(uniq.tolist()) == sorted(idx.tolist())
    for j, i in enumerate(idx.tolist()):
        ref = py_blend(before[i].tolist(), feats[j].tolist(), w)
        np.testing.assert_allclose(bank[i].tolist(), ref, atol=1e-6)
    np.testing.assert_allclose(bank.double().norm(dim=1).numpy(), 1.,
                               atol=1e-5)
    touched = set(idx.tolist())
    for i in range(n):
        if i not in touched:
            assert torch.equal(bank[i], before[i])


def test_momentum_duplicates_last_occurrence_wins():
    n, d, w = 8, 4, 0.5
    bank = unit_rows(n, d, seed=4)
    before = bank.clone()
    idx = torch.tensor([3, 1, 3, 6, 3, 1])
    feats = torch.randn(6, d, generator=torch.Generator().manual_seed(5))
    uniq = momentum_update(bank, idx, feats, w)
    assert uniq.tolist() == [1, 3, 6]  # the unique updated rows
    # one blend with the LAST copy's feature (not sequential updates)
    for row, last in ((3, 4), (1, 5), (6, 3)):
        ref = py_blend(before[row].tolist(), feats[last].tolist(), w)
        np.testing.assert_allclose(bank[row].tolist(), ref, atol=1e-6)


def test_momentum_float64_bank():
    bank = unit_rows(6, 3, seed=6, dtype=torch.float64)
    before = bank.clone()
    feats = torch.tensor([[1., 2., 2.], [0., -3., 4.]], dtype=torch.float64)
    momentum_update(bank, torch.tensor([0, 4]), feats, 1.0)
    assert bank.dtype == torch.float64
    np.testing.assert_allclose(bank[0].numpy(), [1 / 3, 2 / 3, 2 / 3],
                               atol=1e-6)
    np.testing.assert_allclose(bank[4].numpy(), [0., -0.6, 0.8], atol=1e-6)
    momentum_update(bank, torch.tensor([2]), feats[:1], 0.25)
    ref = py_blend(before[2].tolist(), feats[0].tolist(), 0.25)
    np.testing.assert_allclose(bank[2].numpy(), ref, atol=1e-6)
    for i in (1, 3, 5):
        assert torch.equal(bank[i], before[i])


def test_momentum_accepts_feats_with_grad():
    bank = unit_rows(4, 3)
    feats = torch.randn(2, 3, requires_grad=True)
    momentum_update(bank, torch.tensor([0, 1]), feats, 0.5)
    assert not bank.requires_grad


@pytest.mark.parametrize('w', [0., -0.1, 1.5, float('nan')])
def test_momentum_rejects_bad_momentum(w):
    bank = unit_rows(4, 3)
    before = bank.clone()
    with pytest.raises(ValueError, match='momentum'):
        momentum_update(bank, torch.tensor([0]), torch.ones(1, 3), w)
    assert torch.equal(bank, before)


@pytest.mark.parametrize('idx,feats', [
    (torch.tensor([[0, 1]]), torch.ones(2, 3)),  # 2-D idx
    (torch.tensor([0, 1]), torch.ones(3)),  # 1-D feats
    (torch.tensor([0, 1]), torch.ones(3, 3)),  # b mismatch
    (torch.tensor([0, 1]), torch.ones(2, 4)),  # d mismatch
])
def test_momentum_rejects_bad_shapes(idx, feats):
    with pytest.raises(ValueError):
        momentum_update(unit_rows(4, 3), idx, feats, 0.5)


@pytest.mark.parametrize('seed', range(4))
def test_last_occurrence_matches_python_loop(seed):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 15, (40, ), generator=g)
    ref = {}
    for pos, v in enumerate(idx.tolist()):
        ref[v] = pos
    uniq, last = last_occurrence(idx)
    assert uniq.dtype == last.dtype == torch.int64
    assert uniq.tolist() == sorted(ref)
    assert last.tolist() == [ref[v] for v in sorted(ref)]


# --------------------------------------------------------------------------
# assign_labels
# --------------------------------------------------------------------------


def brute_assign(feats, cents, metric, allowed=None):
    out = []
    for f in feats.tolist():
        best, best_c = None, None
        for c, v in enumerate(cents.tolist()):
            if allowed is not None and not allowed[c]:
                continue
            dot = sum(a * b for a, b in zip(f, v))
            if metric == 'dot':
                score = dot
            elif metric == 'cosine':
                score = dot / math.sqrt(sum(b * b for b in v))
            else:
                score = -math.sqrt(sum((a - b)**2 for a, b in zip(f, v)))
            if best is None or score > best:
                best, best_c = score, c
        out.append(best_c)
    return out


def random_problem(n=40, k=6, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(n, d, generator=g)
    scale = 0.2 + 3 * torch.rand(k, 1, generator=g)  # very different norms
    cents = torch.randn(k, d, generator=g)
    cents = scale * cents / cents.norm(dim=1, keepdim=True)
    return feats, cents


@pytest.mark.parametrize('metric', ['dot', 'l2', 'cosine'])
@pytest.mark.parametrize('seed', [0, 1])
def test_assign_labels_brute_force(metric, seed):
    feats, cents = random_problem(seed=seed)
    labels = assign_labels(feats, cents, metric)
    assert labels.dtype == torch.int64 and labels.shape == (40, )
    assert labels.tolist() == brute_assign(feats, cents, metric)


def test_assign_l2_matches_cdist():
    feats, cents = random_problem(n=60, seed=3)
    ref = torch.cdist(feats.double(), cents.double()).argmin(1)
    assert torch.equal(assign_labels(feats, cents, 'l2'), ref)


def test_dot_and_l2_disagree_on_unequal_norms():
    # f = e0; c0 = 0.5 e0 (distance 0.5, dot 0.5, cos 1),
    # c1 = (3, 1) (distance sqrt 5, dot 3, cos 3 / sqrt 10)
    feats = torch.tensor([[1., 0.]])
    cents = torch.tensor([[0.5, 0.], [3., 1.]])
    assert assign_labels(feats, cents, 'dot').tolist() == [1]
    assert assign_labels(feats, cents, 'l2').tolist() == [0]
    assert assign_labels(feats, cents, 'cosine').tolist() == [0]


def test_assign_default_metric_is_dot():
    feats = torch.tensor([[1., 0.]])
    cents = torch.tensor([[0.5, 0.], [3., 1.]])
    assert assign_labels(feats, cents).tolist() == [1]


@pytest.mark.parametrize('metric', ['dot', 'l2', 'cosine'])
def test_assign_respects_allowed(metric):
    feats, cents = random_problem(seed=5)
    allowed = torch.tensor([False, True, False, True, True, False])
    labels = assign_labels(feats, cents, metric, allowed=allowed)
    assert set(labels.tolist()) <= {1, 3, 4}
    assert labels.tolist() == brute_assign(feats, cents, metric,
                                           allowed.tolist())


def test_assign_rejects_all_false_and_bad_metric():
    feats, cents = random_problem()
    with pytest.raises(ValueError):
        assign_labels(feats, cents, allowed=torch.zeros(6, dtype=torch.bool))
    with pytest.raises(ValueError) as err:
        assign_labels(feats, cents, 'euclid')
    for name in ('dot', 'l2', 'cosine'):
        assert name in str(err.value)
    assert set(ASSIGN_METRICS) == {'dot', 'l2', 'cosine'}


# --------------------------------------------------------------------------
# cluster_means / cluster_sizes / cluster_stats / check_cluster_setup
# --------------------------------------------------------------------------


def loop_means(feats, labels, k):
    out = []
    for c in range(k):
        rows = [f for f, lab in zip(feats.tolist(), labels.tolist())
                if lab == c]
        if rows:
            out.append([sum(col) / len(rows) for col in zip(*rows)])
        else:
            out.append(None)
    return out


def test_cluster_means_match_loop_and_keep_previous():
    g = torch.Generator().manual_seed(0)
    k, d = 6, 3
    feats = torch.randn(40, d, generator=g)
    labels = torch.randint(0, k, (40, ), generator=g)
    labels[labels == 4] = 0  # cluster 4 empty
    previous = torch.randn(k, d, generator=g)
    ref = loop_means(feats, labels, k)
    assert ref[4] is None
    for prev in (None, previous):
        means = cluster_means(feats, labels, k, previous=prev)
        assert means.shape == (k, d) and means.dtype == torch.float32
        for c in range(k):
            if ref[c] is None:
                want = [0.] * d if prev is None else previous[c].tolist()
                assert means[c].tolist() == want
            else:
                np.testing.assert_allclose(means[c].tolist(), ref[c],
                                           atol=1e-6)


def test_cluster_means_float64_input():
    feats = torch.tensor([[1., 2.], [3., 4.], [10., 0.]],
                         dtype=torch.float64)
    means = cluster_means(feats, torch.tensor([1, 1, 0]), 3)
    assert means.tolist() == [[10., 0.], [2., 3.], [0., 0.]]


def test_cluster_sizes_and_stats_hand_made():
    labels = torch.tensor([0, 0, 2, 2, 2, 4, 0, 2])
    assert cluster_sizes(labels, 6).tolist() == [3, 0, 4, 0, 1, 0]
    stats = cluster_stats(labels, 6)
    assert stats == dict(empty_num=3, min_cluster=0, max_cluster=4,
                         mean_cluster=pytest.approx(8 / 6))
    full = cluster_stats(torch.tensor([1, 0, 1, 1, 0]), 2)
    assert full == dict(empty_num=0, min_cluster=2, max_cluster=3,
                        mean_cluster=2.5)


def test_check_cluster_setup():
    check_cluster_setup(10, 5)  # exactly 2 per cluster
    check_cluster_setup(15, 5, min_cluster=3)  # exactly k * min_cluster
    check_cluster_setup(100, 5, min_cluster=0)
    with pytest.raises(ValueError, match='num_clusters'):
        check_cluster_setup(9, 5)
    with pytest.raises(ValueError, match='min_cluster'):
        check_cluster_setup(14, 5, min_cluster=3)
    with pytest.raises(ValueError, match='num_clusters'):
        check_cluster_setup(10, 0)
    with pytest.raises(ValueError, match='min_cluster'):
        check_cluster_setup(10, 2, min_cluster=-1)


# --------------------------------------------------------------------------
# repair_clusters
# --------------------------------------------------------------------------


def check_invariants(labels, n, k):
    assert labels.dtype == torch.int64 and labels.shape == (n, )
    assert int(labels.min()) >= 0 and int(labels.max()) < k
    sizes = torch.bincount(labels, minlength=k)
    assert sizes.numel() == k
    assert int(sizes.sum()) == n
    assert bool((sizes > 0).all())  # no empty cluster
    assert len(set(labels.tolist())) == k


def means_by_loop(feats, labels, c):
    rows = [f for f, lab in zip(feats.tolist(), labels.tolist()) if lab == c]
    return [sum(col) / len(rows) for col in zip(*rows)]


@pytest.mark.parametrize('metric', ['dot', 'l2'])
@pytest.mark.parametrize('seed', [0, 3])
def test_repair_random_invariants(metric, seed):
    n, k, d, m = 80, 8, 5, 8
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(n, d, generator=g)
    # skewed labels: several small and empty clusters
    probs = torch.tensor([.4, .25, .15, .1, .05, .05, 0., 0.])
    labels = torch.multinomial(probs, n, replacement=True, generator=g)
    cents = torch.randn(k, d, generator=g)
    labels0, cents0, feats0 = labels.clone(), cents.clone(), feats.clone()
    out, new_cents, info = repair_clusters(feats, labels, cents, m, metric,
                                           seed=seed)
    check_invariants(out, n, k)
    assert new_cents.shape == (k, d)
    # inputs untouched
    assert torch.equal(labels, labels0) and torch.equal(cents, cents0)
    assert torch.equal(feats, feats0)
    sizes0 = torch.bincount(labels0, minlength=k)
    n_small = sum(int(s) < m for s in sizes0)
    assert info['num_small'] == n_small
    assert info['num_moved'] == sum(int(s) for s in sizes0 if s < m)
    assert info['num_split'] == n_small
    # a second call with the same seed is identical
    out2, cents2, info2 = repair_clusters(feats, labels, cents, m, metric,
                                          seed=seed)
    assert torch.equal(out, out2) and torch.equal(new_cents, cents2)
    assert info == info2


def designed_problem():
    """k = 5 in d = 4. Cluster 0 (100 rows, the largest) sits on -(e0+e1),
    clusters 1 and 2 (10 rows each) on e0 and e1, clusters 3 and 4
    (3 rows each) have members with positive e0 and e1 coordinates, so their
    nearest allowed centroid is always 1 or 2 and never 0. Centroid norms
    differ (2 and 1), so 'dot' and 'l2' may choose differently."""
    g = torch.Generator().manual_seed(7)
    d = 4
    e = torch.eye(d)
    c0 = -(e[0] + e[1])
    blocks = [c0 + 0.3 * torch.randn(100, d, generator=g),
              2 * e[0] + 0.3 * torch.randn(10, d, generator=g),
              e[1] + 0.3 * torch.randn(10, d, generator=g),
              0.1 + torch.rand(6, d, generator=g) * torch.tensor(
                  [2., 2., .5, .5])]
    feats = torch.cat(blocks)
    labels = torch.tensor([0] * 100 + [1] * 10 + [2] * 10 + [3] * 3 +
                          [4] * 3)
    cents = torch.stack([c0, 2 * e[0], e[1], e[2], e[3]])
    return feats, labels, cents


@pytest.mark.parametrize('metric', ['dot', 'l2'])
def test_repair_moves_to_nearest_non_small_centroid(metric):
    feats, labels, cents = designed_problem()
    n, k = labels.numel(), 5
    out, new_cents, info = repair_clusters(feats, labels, cents, 4, metric,
                                           seed=0)
    check_invariants(out, n, k)
    assert info == dict(num_small=2, num_moved=6, num_split=2)
    moved = list(range(120, 126))
    allowed = [True, True, True, False, False]
    targets = brute_assign(feats[moved], cents, metric, allowed)
    assert 0 not in targets  # by construction (see designed_problem)
    # clusters 1 and 2 (size <= 16) are never the largest, never split
    assert out[moved].tolist() == targets
    assert out[100:120].tolist() == labels[100:120].tolist()
    # the rows of cluster 0 now fill clusters 0, 3 and 4
    assert set(out[:100].tolist()) == {0, 3, 4}
    # the split clusters get their new means; the receivers keep theirs
    for c in (0, 3, 4):
        np.testing.assert_allclose(new_cents[c].tolist(),
                                   means_by_loop(feats, out, c), atol=1e-5)
    for c in (1, 2):
        assert torch.equal(new_cents[c], cents[c])


def test_repair_metric_changes_targets():
    """The designed problem does exercise the metric: at least one moved
    row's brute-force target differs between 'dot' and 'l2'."""
    feats, _, cents = designed_problem()
    allowed = [True, True, True, False, False]
    dot = brute_assign(feats[120:], cents, 'dot', allowed)
    l2 = brute_assign(feats[120:], cents, 'l2', allowed)
    assert dot != l2


def test_repair_exactly_min_cluster_is_not_small():
    feats, labels, cents = designed_problem()
    # clusters 3 and 4 have exactly 3 members: min_cluster=3 touches nothing
    out, new_cents, info = repair_clusters(feats, labels, cents, 3)
    assert torch.equal(out, labels) and torch.equal(new_cents, cents)
    assert info == dict(num_small=0, num_moved=0, num_split=0)
    # min_cluster=4 makes both small
    _, _, info = repair_clusters(feats, labels, cents, 4)
    assert info['num_small'] == 2


def test_repair_min_cluster_zero_only_refills_empty():
    feats, labels, cents = designed_problem()
    labels = labels.clone()
    labels[labels == 4] = 3  # cluster 4 empty, cluster 3 has 6 rows
    out, _, info = repair_clusters(feats, labels, cents, 0)
    check_invariants(out, labels.numel(), 5)
    assert info == dict(num_small=1, num_moved=0, num_split=1)
    changed = (out != labels).nonzero().flatten().tolist()
    # only rows of the largest cluster (0) changed, all to label 4
    assert changed and all(i < 100 for i in changed)
    assert set(out[changed].tolist()) == {4}


def test_repair_identical_largest_cluster_random_half():
    d = 3
    same = torch.tensor([[0.6, 0.8, 0.]]).repeat(20, 1)
    others = torch.randn(5, d, generator=torch.Generator().manual_seed(0))
    feats = torch.cat([same, others])
    labels = torch.tensor([0] * 20 + [1] * 5)
    cents = torch.stack([same[0], others.mean(0), torch.zeros(d)])
    out, new_cents, info = repair_clusters(feats, labels, cents, 0, seed=1)
    check_invariants(out, 25, 3)
    assert info['num_split'] == 1
    sizes = torch.bincount(out[:20], minlength=3).tolist()
    assert sizes[1] == 0 and abs(sizes[0] - sizes[2]) <= 1
    assert out[20:].tolist() == [1] * 5
    for c in (0, 2):
        np.testing.assert_allclose(new_cents[c].tolist(), [0.6, 0.8, 0.],
                                   atol=1e-6)


def test_repair_all_small_raises():
    feats = unit_rows(12, 3)
    labels = torch.arange(12) % 4  # 3 per cluster
    with pytest.raises(ValueError, match='min_cluster'):
        repair_clusters(feats, labels, torch.randn(4, 3), 4)


def test_repair_too_few_samples_raises():
    with pytest.raises(ValueError):
        repair_clusters(unit_rows(5, 3), torch.zeros(5, dtype=torch.long),
                        torch.randn(3, 3), 0)


def kmeans_objective(feats, labels, cents):
    return sum(sum((a - b)**2 for a, b in zip(f, cents[lab]))
               for f, lab in zip(feats.tolist(), labels.tolist()))


def test_online_l2_kmeans_objective_never_increases():
    """Spec U4: batch reassignment (L2) + full centroid recomputation on
    fixed features is Lloyd's algorithm: the objective cannot increase."""
    g = torch.Generator().manual_seed(0)
    n, k, d = 90, 5, 3
    feats = torch.randn(n, d, generator=g) + 3 * torch.randn(
        k, d, generator=g).repeat_interleave(n // k, 0)
    labels = torch.randint(0, k, (n, ), generator=g)
    cents = cluster_means(feats, labels, k)
    obj = [kmeans_objective(feats, labels, cents.tolist())]
    for _ in range(12):
        batch = torch.randperm(n, generator=g)[:30]
        labels = labels.clone()
        labels[batch] = assign_labels(feats[batch], cents, 'l2')
        cents = cluster_means(feats, labels, k, previous=cents)
        obj.append(kmeans_objective(feats, labels, cents.tolist()))
    assert all(b <= a + 1e-4 for a, b in zip(obj, obj[1:]))
    assert obj[-1] < obj[0]
