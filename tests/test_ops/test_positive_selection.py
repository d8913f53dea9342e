"""CLIM positive selection against per-row numpy / Python references."""
import numpy as np
import pytest
import torch

from mmmix.ops import (
    PositiveTable,
    center_wise_pool,
    cluster_table,
    draw_positives,
    pool_table,
    select_positives,
    selection_stats,
)

P, K = 10, 40


def np_knn(x, k):
    """Brute-force k nearest other rows (squared L2), nearest first."""
    x = np.asarray(x, np.float64)
    sq = (x * x).sum(1)
    d = sq[:, None] + sq[None, :] - 2 * x @ x.T
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind='stable')[:, :k]


def make_blobs(n_per=250, num=8, d=8, sep=3.0, seed=0):
    rng = np.random.default_rng(seed)
    centers = sep * rng.standard_normal((num, d))
    x = np.concatenate([c + rng.standard_normal((n_per, d)) for c in centers])
    return x.astype(np.float32), np.repeat(np.arange(num), n_per)


@pytest.fixture(scope='module')
def injected():
    """~2k Gaussian blobs with injected assignment (the blob) and centroids
    (blob means); one point moved exactly onto its centroid."""
    x, a = make_blobs()
    anchor = 5
    others = (a == a[anchor]) & (np.arange(len(a)) != anchor)
    x[anchor] = x[others].astype(np.float64).mean(0)
    cents = np.stack([x[a == c].astype(np.float64).mean(0)
                      for c in range(a.max() + 1)])
    dc = ((x - cents[a])**2).sum(1)
    return dict(x=x, assign=a, dc=dc, knn=np_knn(x, K), anchor=anchor)


def reference_valid(assign, dc, knn):
    """Per-row Python Eq. 2: valid neighbours in kNN order."""
    return [[j for j in row if assign[j] == assign[i] and dc[j] <= dc[i]]
            for i, row in enumerate(knn.tolist())]


def run_pool(data, fill='topup', seed=0):
    gen = torch.Generator().manual_seed(seed)
    return center_wise_pool(torch.from_numpy(data['assign']),
                            torch.from_numpy(data['dc']),
                            torch.from_numpy(data['knn']), P, fill, gen)


def test_center_wise_pool_matches_reference(injected):
    pool, n_valid = run_pool(injected)
    assign, knn = injected['assign'], injected['knn']
    valid = reference_valid(assign, injected['dc'], knn)
    assert pool.shape == (len(assign), P) and pool.dtype == torch.int64
    np.testing.assert_array_equal(n_valid.numpy(), [len(v) for v in valid])
    # the data must exercise both branches
    assert (n_valid > P).any() and (n_valid < P).any()
    for i, (row, vi) in enumerate(zip(pool.tolist(), valid)):
        assert i not in row and len(set(row)) == P
        assert set(row) <= set(knn[i].tolist())
        if len(vi) >= P:
            assert set(row) <= set(vi)
            # kept in kNN order
            assert row == [j for j in vi if j in set(row)]
        else:
            rest = [j for j in knn[i].tolist() if j not in set(vi)]
            assert row == (vi + rest)[:P]


def test_center_wise_pool_seeded_and_random_subset(injected):
    a, n_valid = run_pool(injected, seed=0)
    b, _ = run_pool(injected, seed=0)
    c, _ = run_pool(injected, seed=1)
    assert torch.equal(a, b)
    big = n_valid > P
    assert not torch.equal(a[big], c[big])
    small = n_valid <= P  # deterministic branch
    assert torch.equal(a[small], c[small])


def test_center_wise_pool_replace_and_centroid_anchor(injected):
    pool, n_valid = run_pool(injected, fill='replace')
    knn = torch.from_numpy(injected['knn'])
    small = n_valid <= P
    assert torch.equal(pool[small], knn[small, :P])
    # an anchor at its centroid has no valid neighbour: pure kNN fill
    i = injected['anchor']
    assert injected['dc'][i] < 1e-10
    topup, n_valid = run_pool(injected)
    assert n_valid[i] == 0
    assert torch.equal(topup[i], knn[i, :P])


def test_center_wise_pool_ties_are_valid():
    # anchor 0: neighbours 1 (tie), 2 (farther), 3 (other cluster), 4 (closer)
    assign = torch.tensor([0, 0, 0, 1, 0])
    dc = torch.tensor([1.0, 1.0, 2.0, 0.5, 0.5])
    knn = torch.tensor([[1, 2, 3, 4], [0, 2, 3, 4], [0, 1, 3, 4],
                        [0, 1, 2, 4], [0, 1, 2, 3]])
    pool, n_valid = center_wise_pool(assign, dc, knn, pool_size=3)
    assert n_valid.tolist() == [2, 2, 3, 0, 0]
    assert pool[0].tolist() == [1, 4, 2]  # valid (tie incl.), then nearest
    assert pool[1].tolist() == [0, 4, 2]


def test_center_wise_pool_errors():
    knn = torch.zeros(3, 5, dtype=torch.long)
    a, dc = torch.zeros(3, dtype=torch.long), torch.zeros(3)
    with pytest.raises(ValueError, match=r'pool_size must be in \[1, k=5\]'):
        center_wise_pool(a, dc, knn, pool_size=6)
    with pytest.raises(ValueError, match="fill must be one of.*'topup'"):
        center_wise_pool(a, dc, knn, pool_size=2, fill='nearest')


@pytest.fixture(scope='module')
def labelled():
    x, labels = make_blobs(n_per=150, num=8, sep=4.0, seed=1)
    return torch.from_numpy(x), torch.from_numpy(labels)


def test_select_center_wise_end_to_end(labelled):
    x, _ = labelled
    n = len(x)
    table, info = select_positives(x, num_clusters=8, num_neighbors=20,
                                   pool_size=P, seed=3)
    knn = info['knn_idx']
    np.testing.assert_array_equal(knn.numpy(), np_knn(x.numpy(), 20))
    pool = table.members.view(n, P)
    assert torch.equal(table.start, torch.arange(n) * P)
    assert (table.count == P).all() and (table.self_pos == -1).all()
    assert (pool != torch.arange(n)[:, None]).all()
    assert (pool[:, :, None] == knn[:, None, :]).any(2).all()
    assign, sq = info['assign'], info['sq_dist']
    full = info['n_valid'] >= P
    assert (assign[pool[full]] == assign[full, None]).all()
    assert (sq[pool[full]] <= sq[full, None]).all()
    assert info['cluster_sizes'].sum() == n
    again, _ = select_positives(x, num_clusters=8, num_neighbors=20,
                                pool_size=P, seed=3)
    for u, v in zip(table, again):
        assert torch.equal(u, v)


def test_select_modes(labelled):
    x, _ = labelled
    n = len(x)
    table, info = select_positives(x, mode='knn', pool_size=10)
    np.testing.assert_array_equal(table.members.view(n, 10).numpy(),
                                  np_knn(x.numpy(), 10))
    assert 'assign' not in info
    table, info = select_positives(x, mode='kmeans', num_clusters=8)
    assign = info['assign']
    for i in (0, 7, n - 1):
        seg = table.members[table.start[i]:table.start[i] + table.count[i]]
        assert set(seg.tolist()) == set((assign == assign[i]).nonzero()
                                        .squeeze(1).tolist())
        assert seg[table.self_pos[i]] == i
    assert torch.equal(table.members,
                       torch.sort(assign, stable=True).indices)
    table, _ = select_positives(x, mode='random')
    pos, has = draw_positives(table, torch.arange(n).repeat(5),
                              torch.Generator().manual_seed(0))
    assert has.all() and (pos != torch.arange(n).repeat(5)).all()
    assert len(set(pos.tolist())) > 0.9 * n


def test_default_num_clusters():
    x = torch.randn(300, 4)
    _, info = select_positives(x, mode='kmeans')
    assert len(info['cluster_sizes']) == 2  # round(300 / 128)
    _, info = select_positives(x[:50], mode='kmeans')
    assert len(info['cluster_sizes']) == 1


def test_draw_positives_singleton_and_scalar_index():
    assign = torch.tensor([0, 0, 0, 1, 2, 2, 0])
    table = cluster_table(assign)
    idx = torch.arange(7).repeat(50)
    pos, has = draw_positives(table, idx, torch.Generator().manual_seed(0))
    assert (has == (idx != 3)).all()
    assert (pos[idx == 3] == 3).all()
    assert (pos[has] != idx[has]).all()
    assert (assign[pos] == assign[idx]).all()
    for i in (2, torch.tensor(2), torch.tensor([2])):
        p, h = draw_positives(table, i)
        assert p.shape == torch.as_tensor(i).shape and bool(h)
        assert int(p) in (0, 1, 6)
    empty = PositiveTable(torch.zeros(0, dtype=torch.long),
                          torch.zeros(2, dtype=torch.long),
                          torch.zeros(2, dtype=torch.long),
                          torch.full((2, ), -1))
    p, h = draw_positives(empty, torch.tensor([1, 0]))
    assert p.tolist() == [1, 0] and not h.any()


@pytest.mark.parametrize('with_self', [True, False])
def test_draw_positives_uniform(with_self):
    if with_self:  # a 6-member cluster, anchor 3 in the middle
        table = cluster_table(torch.tensor([1, 0, 0, 0, 0, 0, 0, 2]))
        anchor, cand = 3, [1, 2, 4, 5, 6]
    else:
        table = pool_table(torch.tensor([[4, 7, 1, 9, 2], [0, 3, 5, 6, 8]]))
        anchor, cand = 1, [0, 3, 5, 6, 8]
    draws = 5000
    pos, has = draw_positives(table, torch.full((draws, ), anchor),
                              torch.Generator().manual_seed(123))
    assert has.all()
    counts = np.array([(pos == c).sum().item() for c in cand])
    assert counts.sum() == draws
    expected = draws / len(cand)
    chi2 = ((counts - expected)**2 / expected).sum()
    assert chi2 < 18.5  # df = 4, p ~ 0.001


def monte_carlo_precision(table, labels, reps=20, seed=0):
    n = len(labels)
    idx = torch.arange(n).repeat(reps)
    pos, has = draw_positives(table, idx, torch.Generator().manual_seed(seed))
    ok = has & (labels[idx] >= 0)
    return (labels[pos] == labels[idx])[ok].double().mean().item()


@pytest.mark.parametrize('mode', ['center_wise', 'knn', 'kmeans', 'random'])
def test_label_precision_exact_vs_monte_carlo(labelled, mode):
    x, labels = labelled
    labels = labels.clone()
    labels[::7] = -1  # unknown labels are ignored as anchors
    # a noisy labelling so that the precision is not trivially ~1
    flip = torch.Generator().manual_seed(9)
    noisy = torch.rand(len(labels), generator=flip) < 0.3
    labels[noisy & (labels >= 0)] = torch.randint(
        0, 8, (int((noisy & (labels >= 0)).sum()), ), generator=flip)
    table, info = select_positives(x, mode=mode, num_clusters=16,
                                   num_neighbors=20)
    exact = selection_stats(table, info, labels)['label_precision']
    assert abs(exact - monte_carlo_precision(table, labels)) < 0.01


def test_label_precision_center_wise_beats_random(labelled):
    x, labels = labelled
    stats = {}
    for mode in ('center_wise', 'random'):
        table, info = select_positives(x, mode=mode, num_clusters=8)
        stats[mode] = selection_stats(table, info, labels)
    assert stats['center_wise']['label_precision'] > 0.9
    n = len(labels)
    np.testing.assert_allclose(stats['random']['label_precision'],
                               (n / 8 - 1) / (n - 1))


def test_selection_stats_counts():
    assign = torch.tensor([0, 0, 0, 1, 3, 3])
    table = cluster_table(assign)
    info = dict(cluster_sizes=torch.bincount(assign, minlength=4),
                n_valid=torch.tensor([0, 3, 10, 12, 1, 1]), pool_size=10)
    labels = torch.tensor([0, 0, 1, 1, 1, -1])
    s = selection_stats(table, info, labels)
    assert s['mean_valid'] == pytest.approx(27 / 6)
    assert s['fill_fraction'] == pytest.approx(4 / 6)
    assert (s['num_clusters'], s['cluster_size_min'], s['cluster_size_max'],
            s['cluster_size_mean']) == (3, 1, 3, 2)
    assert s['singleton_fraction'] == pytest.approx(1 / 3)
    assert s['no_pos_fraction'] == pytest.approx(1 / 6)
    assert s['mean_candidates'] == pytest.approx(8 / 6)
    # anchors 0, 1: 1/2; anchor 2: 0; anchor 4: its only candidate is
    # unlabelled; 3 (singleton) and 5 (unlabelled) are skipped
    assert s['label_precision'] == pytest.approx(0.25)
    with pytest.raises(ValueError, match='one entry per anchor'):
        selection_stats(table, info, labels[:3])


def test_select_positives_errors():
    x = torch.randn(50, 4)
    with pytest.raises(ValueError, match="mode must be one of.*'kmeans'"):
        select_positives(x, mode='cluster')
    with pytest.raises(ValueError, match="fill must be one of.*'replace'"):
        select_positives(x, fill='top')
    for m in (0, 51):
        with pytest.raises(ValueError,
                           match=r'num_clusters must be an int in \[1, 50\]'):
            select_positives(x, num_clusters=m)
    with pytest.raises(ValueError,
                       match=r'num_neighbors must be an int in \[1, 49\]'):
        select_positives(x, num_clusters=2, num_neighbors=50)
    with pytest.raises(ValueError,
                       match=r'pool_size must be an int in \[1, 5\]'):
        select_positives(x, num_clusters=2, num_neighbors=5, pool_size=6)
    with pytest.raises(ValueError,
                       match=r'pool_size must be an int in \[1, 49\]'):
        select_positives(x, mode='knn', pool_size=50)
    with pytest.raises(ValueError, match='2-D'):
        select_positives(torch.randn(50))
    bad = x.clone()
    bad[0, 0] = float('nan')
    with pytest.raises(ValueError, match='non-finite'):
        select_positives(bad)
