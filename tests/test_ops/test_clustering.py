"""k-means and the kNN graph against numpy brute force (no faiss)."""
import numpy as np
import pytest
import torch

import mmmix.ops.knn as knn_module
from mmmix.ops import kmeans, knn_graph


def np_sq_dists(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return ((x[:, None, :] - y[None, :, :])**2).sum(-1)


def blobs(n_per, centers, std=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers, np.float64)
    x = np.concatenate([c + std * rng.standard_normal((n_per, len(c)))
                        for c in centers])
    labels = np.repeat(np.arange(len(centers)), n_per)
    return torch.from_numpy(x.astype(np.float32)), labels


@pytest.mark.parametrize('metric', ['l2', 'ip'])
def test_knn_graph_matches_brute_force(metric):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 8)).astype(np.float32)
    k = 7
    dists, idx = knn_graph(torch.from_numpy(x), k, metric=metric)
    assert dists.shape == idx.shape == (300, k)
    assert idx.dtype == torch.int64 and dists.dtype == torch.float32
    if metric == 'l2':
        ref = np_sq_dists(x, x)
        np.fill_diagonal(ref, np.inf)
        ref_idx = np.argsort(ref, axis=1)[:, :k]
    else:
        ref = x.astype(np.float64) @ x.astype(np.float64).T
        np.fill_diagonal(ref, -np.inf)
        ref_idx = np.argsort(-ref, axis=1)[:, :k]
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    ref_d = np.take_along_axis(ref, ref_idx, 1)
    np.testing.assert_allclose(dists.numpy(), ref_d, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('k', [2, 4, 7])
def test_knn_graph_duplicates_never_self(k):
    # 40 distinct vectors, each repeated 5 times: distance ties at 0
    rng = np.random.default_rng(2)
    base = rng.standard_normal((40, 6)).astype(np.float32)
    x = torch.from_numpy(np.repeat(base, 5, axis=0))
    n = x.shape[0]
    dists, idx = knn_graph(x, k)
    rows = torch.arange(n)[:, None]
    assert (idx != rows).all()
    assert ((idx >= 0) & (idx < n)).all()
    assert all(len(set(r)) == k for r in idx.tolist())
    group = idx // 5 == rows // 5
    n_dup = min(k, 4)  # the other 4 copies come first
    assert group[:, :n_dup].all() and (dists[:, :n_dup] < 1e-5).all()
    assert not group[:, n_dup:].any()


def test_knn_graph_drops_last_column_when_self_absent(monkeypatch):
    # row 1 lacks itself in its k + 1 results (duplicate ties)
    fake_idx = torch.tensor([[0, 2, 1], [0, 2, 3], [3, 2, 0], [1, 3, 0]])
    fake_d = torch.arange(12, dtype=torch.float32).view(4, 3)
    monkeypatch.setattr(knn_module, 'knn_search',
                        lambda *a, **kw: (fake_d, fake_idx))
    dists, idx = knn_graph(torch.zeros(4, 2), 2)
    assert idx.tolist() == [[2, 1], [0, 2], [3, 0], [1, 0]]
    assert dists.tolist() == [[1, 2], [3, 4], [6, 8], [9, 11]]


def test_knn_graph_errors():
    x = torch.randn(5, 3)
    with pytest.raises(ValueError,
                       match=r'num_neighbors \(k=5\) needs at least '
                       r'k\+1=6 samples, got 5'):
        knn_graph(x, 5)
    with pytest.raises(ValueError, match='num_neighbors'):
        knn_graph(x, 0)
    assert knn_graph(x, 4)[1].shape == (5, 4)


def test_kmeans_assignment_is_brute_force_argmin():
    centers = 6 * np.eye(8)[:6]
    x, _ = blobs(100, centers, seed=3)
    cents, assign, sq = kmeans(x.double(), 6, niter=10)
    assert cents.shape == (6, 8) and cents.dtype == torch.float32
    assert assign.shape == (600, ) and assign.dtype == torch.int64
    assert sq.shape == (600, ) and sq.dtype == torch.float32
    d = np_sq_dists(x.numpy(), cents.numpy())
    best = d.min(1)
    picked = d[np.arange(600), assign.numpy()]
    # the assigned centroid is the nearest (up to float32 near-ties)
    assert np.all(picked - best <= 1e-4 * (1 + best))
    assert np.mean(assign.numpy() == d.argmin(1)) > 0.99
    np.testing.assert_allclose(sq.numpy(), picked, rtol=1e-5, atol=1e-5)


def test_kmeans_deterministic_under_seed():
    x, _ = blobs(150, 4 * np.eye(5)[:4], seed=4)
    a = kmeans(x, 4, seed=7)
    b = kmeans(x, 4, seed=7)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_kmeans_uses_all_points_by_default():
    # 2 clusters x 600 points: faiss's default cap (256/centroid) would
    # subsample; converged centroids must be the means of all members
    x, _ = blobs(600, [[0.0] * 4, [12.0] * 4], seed=5)
    cents, assign, _ = kmeans(x, 2, niter=30)
    means = torch.stack([x[assign == c].double().mean(0) for c in range(2)])
    torch.testing.assert_close(cents.double(), means, atol=1e-4, rtol=0)
    # an explicit cap subsamples: the centroids then move off those means
    cents, assign, _ = kmeans(x, 2, niter=30, max_points_per_centroid=40)
    means = torch.stack([x[assign == c].double().mean(0) for c in range(2)])
    assert (cents.double() - means).abs().max() > 1e-3


def test_kmeans_spherical_and_single_cluster():
    x, _ = blobs(50, [[3.0, 0, 0], [0, 3.0, 0]], seed=6)
    cents, _, _ = kmeans(x, 2, spherical=True)
    torch.testing.assert_close(cents.norm(dim=1), torch.ones(2))
    cents, assign, sq = kmeans(x, 1)
    assert (assign == 0).all()
    torch.testing.assert_close(cents[0], x.mean(0), atol=1e-5, rtol=0)


def test_kmeans_errors():
    x = torch.randn(10, 3)
    for m in (0, 11):
        with pytest.raises(ValueError,
                           match=r'num_clusters must be in \[1, 10\]'):
            kmeans(x, m)
    with pytest.raises(ValueError, match='2-D'):
        kmeans(torch.randn(10), 2)
    bad = x.clone()
    bad[3, 1] = float('nan')
    with pytest.raises(ValueError, match='non-finite'):
        kmeans(bad, 2)
    bad[3, 1] = float('inf')
    with pytest.raises(ValueError, match='non-finite'):
        kmeans(bad, 2)
