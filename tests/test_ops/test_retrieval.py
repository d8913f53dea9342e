import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmix.ops import (
    alignment,
    anchor_mixed_similarities,
    faiss_search,
    map_at_r,
    mix_embeddings,
    ms_mixed_grad,
    ms_mixed_grad_sign,
    ms_positivity_threshold,
    pos_neg_mixup,
    positivity_curve,
    recall_at_k,
    retrieve,
    sample_pos_neg_pairs,
    uniformity,
    utilization,
)

# ---------------------------------------------------------------------------
# brute-force references (float64 torch, full sort)
# ---------------------------------------------------------------------------


def ranked_labels(query, qlabels, gallery=None, glabels=None):
    """Gallery labels sorted by decreasing cosine similarity, self removed
    (by index) when the query set is its own gallery."""
    q = F.normalize(query.double(), dim=1)
    if gallery is None:
        g, gl = q, qlabels
    else:
        g, gl = F.normalize(gallery.double(), dim=1), glabels
    sims = q @ g.T
    if gallery is None:
        sims.fill_diagonal_(-math.inf)
    order = sims.argsort(dim=1, descending=True)
    if gallery is None:
        order = order[:, :-1]  # self (at -inf) is last
    return gl[order]


def brute_recall(query, qlabels, ks, gallery=None, glabels=None):
    hits = ranked_labels(query, qlabels, gallery, glabels) == qlabels[:, None]
    return {k: hits[:, :k].any(dim=1).double().mean().item() for k in ks}


def brute_map_at_r(query, qlabels, gallery=None, glabels=None):
    ranked = ranked_labels(query, qlabels, gallery, glabels)
    gl = qlabels if gallery is None else glabels
    aps = []
    for i in range(len(query)):
        r = int((gl == qlabels[i]).sum()) - (gallery is None)
        if r < 1:
            continue
        rel = (ranked[i, :r] == qlabels[i]).double()
        prec = rel.cumsum(0) / torch.arange(1, r + 1)
        aps.append(float((prec * rel).sum() / r))
    return float(np.mean(aps))


def random_data(seed, n=120, d=12, classes=9):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = torch.randint(0, classes, (n, ), generator=g)
    return x, y, g


# ---------------------------------------------------------------------------
# faiss_search / retrieve
# ---------------------------------------------------------------------------


@pytest.mark.parametrize('metric', ['ip', 'l2'])
def test_faiss_search_matches_brute_force(metric):
    x, _, g = random_data(0)
    q = torch.randn(15, 12, generator=g)
    scores, idx = faiss_search(q, x.numpy(), 7, metric)
    assert scores.shape == idx.shape == (15, 7) and idx.dtype == np.int64
    if metric == 'ip':
        ref, ref_idx = (q.double() @ x.double().T).topk(7, dim=1)
    else:
        ref, ref_idx = (torch.cdist(q.double(), x.double())**2).topk(
            7, dim=1, largest=False)
    np.testing.assert_allclose(scores, ref.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(idx, ref_idx.numpy())


def test_faiss_search_validates():
    x = np.random.default_rng(0).normal(size=(10, 4))
    with pytest.raises(ValueError, match=r'k must be an int in \[1, 10\]'):
        faiss_search(x, x, 11)
    with pytest.raises(ValueError, match='k must be'):
        faiss_search(x, x, 0)
    with pytest.raises(ValueError, match='metric'):
        faiss_search(x, x, 2, metric='cos')
    with pytest.raises(ValueError, match='same width'):
        faiss_search(x[:, :3], x, 2)
    with pytest.raises(ValueError, match='2-D'):
        faiss_search(x[0], x, 2)


def test_retrieve_never_returns_self_even_with_many_duplicates():
    # 6 copies of one vector, k + 1 = 4 < 6: a query's own row may not even
    # be returned, then the last column goes; never self in any case
    rng = np.random.default_rng(0)
    x = np.concatenate([np.tile([[1.0, 0, 0]], (6, 1)),
                        rng.normal(size=(10, 3))])
    sims, idx = retrieve(x, 3)
    assert idx.shape == (16, 3)
    assert not (idx == np.arange(16)[:, None]).any()
    # the duplicates retrieve three other duplicates at similarity 1
    assert np.isin(idx[:6], np.arange(6)).all()
    np.testing.assert_allclose(sims[:6], 1, atol=1e-6)
    assert (np.diff(sims, axis=1) <= 1e-6).all()  # best first


# ---------------------------------------------------------------------------
# Recall@K
# ---------------------------------------------------------------------------


@pytest.mark.parametrize('seed', range(4))
def test_recall_matches_brute_force_without_gallery(seed):
    x, y, _ = random_data(seed)
    ks = (1, 2, 4, 8, 16, 119)
    res = recall_at_k(x, y, ks)
    assert list(res) == list(ks)
    ref = brute_recall(x, y, ks)
    for k in ks:
        assert res[k] == pytest.approx(ref[k])
    assert res[119] == 1.0  # every class has another member here


@pytest.mark.parametrize('seed', range(4))
def test_recall_matches_brute_force_with_gallery(seed):
    q, qy, g = random_data(seed, n=40)
    gal = torch.randn(90, 12, generator=g)
    gy = torch.randint(0, 12, (90, ), generator=g)  # some labels missing
    ks = (1, 3, 10, 90)
    res = recall_at_k(q, qy, ks, gal, gy)
    ref = brute_recall(q, qy, ks, gal, gy)
    for k in ks:
        assert res[k] == pytest.approx(ref[k])
    # queries whose label is not in the gallery are misses, even at K = n
    present = torch.isin(qy, gy).double().mean().item()
    assert res[90] == pytest.approx(present)


def test_recall_non_decreasing_in_k():
    x, y, _ = random_data(5, n=200, classes=30)
    ks = tuple(range(1, 60))
    res = recall_at_k(x, y, ks)
    values = [res[k] for k in ks]
    assert values == sorted(values)
    assert all(0 <= v <= 1 for v in values)


def test_recall_toy_case():
    # 1-D directions on the circle; labels chosen by hand
    angles = np.array([0.0, 0.1, 0.25, 3.0, 3.1, 3.3])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    y = np.array([0, 1, 0, 1, 0, 1])
    # neighbours (self excluded): 0 -> 1, 2, ...; 1 -> 0, 2; 2 -> 1, 0;
    # 3 -> 4, 5; 4 -> 3, 5; 5 -> 4, 3
    # R@1 hits: 0:no(1) 1:no(0) 2:no(1) 3:no(0) 4:no(1) 5:no(0)
    # R@2 hits: 0:yes(2) 1:no(0,2) 2:yes(0) 3:yes(5) 4:no(3,5) 5:yes(3)
    res = recall_at_k(x, y, (1, 2))
    assert res == {1: 0.0, 2: pytest.approx(4 / 6)}
    # scale does not matter (L2-normalised)
    assert recall_at_k(x * np.arange(1, 7)[:, None], y, (1, 2)) == res


def test_duplicates_with_other_labels_are_not_mistaken_for_self():
    # rows 0 and 1 are identical but of different classes; dropping the
    # first column instead of self would keep self (a hit) for one of them
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    y = np.array([0, 1, 0, 1])
    res = recall_at_k(x, y, (1, 3))
    # 0 -> 1 (miss); 1 -> 0 (miss); 2 -> 3 (miss); 3 -> 2 (miss)
    assert res[1] == 0.0
    assert res[3] == 1.0
    assert map_at_r(x, y) == pytest.approx(
        brute_map_at_r(torch.tensor(x), torch.tensor(y)))


def test_many_identical_points_are_all_hits():
    # 10 identical points of one class; tie order is arbitrary but every
    # retrieved item is another copy, never self
    x = np.ones((10, 4))
    y = np.zeros(10, dtype=np.int64)
    assert recall_at_k(x, y, (1, 9)) == {1: 1.0, 9: 1.0}
    assert map_at_r(x, y) == 1.0


@pytest.mark.parametrize('seed', range(3))
def test_inshop_negatives_above_best_positive(seed):
    # the official code's In-Shop formulation: a hit at K iff fewer than K
    # gallery negatives score above the best gallery positive (no ties in
    # random data)
    q, qy, g = random_data(seed, n=50, classes=15)
    gal = torch.randn(80, 12, generator=g)
    gy = torch.randint(0, 15, (80, ), generator=g)
    ks = (1, 2, 5, 10, 20)
    res = recall_at_k(q, qy, ks, gal, gy)
    sims = F.normalize(q.double(), dim=1) @ F.normalize(gal.double(),
                                                        dim=1).T
    pos = qy[:, None] == gy[None]
    best_pos = sims.masked_fill(~pos, -math.inf).max(dim=1).values
    neg_above = ((sims > best_pos[:, None]) & ~pos).sum(dim=1)
    has_pos = pos.any(dim=1)
    for k in ks:
        ref = ((neg_above < k) & has_pos).double().mean().item()
        assert res[k] == pytest.approx(ref)


def test_recall_validation():
    x, y, _ = random_data(0, n=10)
    with pytest.raises(ValueError, match='exceeds the number of other'):
        recall_at_k(x, y, (1, 10))  # only 9 others
    assert recall_at_k(x, y, 9)[9] <= 1
    with pytest.raises(ValueError, match='exceeds the gallery size'):
        recall_at_k(x, y, (5, ), x[:4], y[:4])
    with pytest.raises(ValueError, match='positive integers'):
        recall_at_k(x, y, (0, 1))
    with pytest.raises(ValueError, match='positive integers'):
        recall_at_k(x, y, (1.5, ))
    with pytest.raises(ValueError, match='positive integers'):
        recall_at_k(x, y, (True, ))
    with pytest.raises(ValueError, match='at least one'):
        recall_at_k(x, y, ())
    with pytest.raises(ValueError, match='query_labels has 9 entries'):
        recall_at_k(x, y[:9], (1, ))
    with pytest.raises(ValueError, match='both gallery and gallery_labels'):
        recall_at_k(x, y, (1, ), gallery=x)
    with pytest.raises(ValueError, match='integers'):
        recall_at_k(x, y.float(), (1, ))


# ---------------------------------------------------------------------------
# MAP@R
# ---------------------------------------------------------------------------


@pytest.mark.parametrize('seed', range(3))
def test_map_at_r_matches_brute_force(seed):
    x, y, g = random_data(seed, n=150, classes=12)
    y[0] = 99  # a lone query: left out of the mean
    assert map_at_r(x, y) == pytest.approx(brute_map_at_r(x, y))
    gal = torch.randn(70, 12, generator=g)
    gy = torch.randint(0, 14, (70, ), generator=g)
    assert map_at_r(x, y, gal, gy) == pytest.approx(
        brute_map_at_r(x, y, gal, gy))


@pytest.mark.parametrize('seed', range(3))
def test_map_at_r_matches_pytorch_metric_learning(seed):
    from pytorch_metric_learning.utils.accuracy_calculator import (
        AccuracyCalculator,
    )
    x, y, g = random_data(seed, n=200, d=16, classes=11)
    calc = AccuracyCalculator(include=('mean_average_precision_at_r', ),
                              k='max_bin_count')
    xn = F.normalize(x, dim=1)  # PML's default FaissKNN ranks by L2
    ref = calc.get_accuracy(xn, y)['mean_average_precision_at_r']
    assert map_at_r(x, y) == pytest.approx(ref, abs=1e-6)
    gal = F.normalize(torch.randn(150, 16, generator=g), dim=1)
    gy = torch.randint(0, 11, (150, ), generator=g)
    ref = calc.get_accuracy(xn, y, gal, gy,
                            ref_includes_query=False)[
                                'mean_average_precision_at_r']
    assert map_at_r(x, y, gal, gy) == pytest.approx(ref, abs=1e-6)


def test_map_at_r_toy_and_cap():
    # query 0 (class 0) with three other class-0 items at ranks 1, 3, 4
    x = np.array([[1.0, 0.0], [0.99, 0.1], [0.9, 0.4], [0.8, 0.6],
                  [0.7, 0.7], [-1, 0.0]])
    y = np.array([0, 0, 1, 0, 0, 1])
    q, qy, g, gy = x[:1], y[:1], x[1:], y[1:]
    # R = 3: ranks 1 (rel), 2 (not), 3 (rel) -> (1 + 2/3) / 3
    assert map_at_r(q, qy, g, gy) == pytest.approx((1 + 2 / 3) / 3)
    # capped at R = 2: ranks 1 (rel), 2 (not) -> 1 / 2
    assert map_at_r(q, qy, g, gy, max_r=2) == pytest.approx(0.5)
    assert map_at_r(q, qy, g, gy, max_r=10) == map_at_r(q, qy, g, gy)
    with pytest.raises(ValueError, match='max_r'):
        map_at_r(q, qy, g, gy, max_r=0)


def test_map_at_r_without_any_positive_warns():
    x = np.eye(3)
    with pytest.warns(UserWarning, match='no query'):
        assert math.isnan(map_at_r(x, [0, 1, 2]))


# ---------------------------------------------------------------------------
# utilization, alignment, uniformity
# ---------------------------------------------------------------------------


def test_utilization_brute_force_and_superset():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(30, 8))
    train = rng.normal(size=(100, 8))
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    tn = train / np.linalg.norm(train, axis=1, keepdims=True)
    ref = ((qn[:, None] - tn[None])**2).sum(-1).min(1).mean()
    u = utilization(q, train)
    assert u == pytest.approx(ref, abs=1e-5)
    labels = rng.integers(0, 5, 100)
    mixed = pos_neg_mixup(train, labels, num_epochs=3, seed=0)
    u_hat = utilization(q, np.concatenate([train, mixed]))
    assert u_hat <= u + 1e-6
    assert utilization(q, train[:50]) >= u - 1e-6
    # a query that is in the training set is used perfectly
    assert utilization(train[:10], train) == pytest.approx(0, abs=1e-5)


def test_alignment():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 5))
    assert alignment(x, x) == 0
    assert alignment(x, labels=np.zeros(20, int)) > 0
    # identical members of each class
    assert alignment(np.repeat(x[:4], 5, axis=0),
                     labels=np.repeat(np.arange(4), 5)) == 0
    # aligned pairs: mean ||x - y||^alpha
    y = rng.normal(size=(20, 5))
    ref = np.mean(np.linalg.norm(x - y, axis=1)**3)
    assert alignment(x, y, alpha=3) == pytest.approx(ref)
    # labels: all same-label unordered pairs, averaged over pairs
    lab = np.array([0, 0, 0, 1, 1] + [2] * 15)
    d = [np.sum((x[i] - x[j])**2) for i in range(20) for j in range(i + 1, 20)
         if lab[i] == lab[j]]
    assert alignment(x, labels=lab) == pytest.approx(np.mean(d))
    with pytest.raises(ValueError, match='exactly one'):
        alignment(x)
    with pytest.raises(ValueError, match='no two embeddings'):
        alignment(x, labels=np.arange(20))


def test_uniformity():
    assert uniformity(np.ones((5, 3))) == pytest.approx(0, abs=1e-12)
    # antipodal pair: ||x - y||^2 = 4, log exp(-2 * 4) = -8
    assert uniformity(np.array([[0, 1.0], [0, -1.0]])) == pytest.approx(-8)
    assert uniformity(np.array([[0, 1.0], [0, -1.0]]), t=1) == \
        pytest.approx(-4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(37, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    d2 = [np.sum((x[i] - x[j])**2) for i in range(37) for j in range(i + 1,
                                                                      37)]
    ref = np.log(np.mean(np.exp(-2 * np.array(d2))))
    for chunk in (1, 5, 36, 1000):  # chunking does not change the value
        assert uniformity(x, chunk=chunk) == pytest.approx(ref)
    assert uniformity(torch.from_numpy(x)) == pytest.approx(ref)
    # the regular simplex is the most uniform configuration of 3 points
    tri = np.array([[np.cos(a), np.sin(a)] for a in (0, 2.0944, 4.18879)])
    assert uniformity(tri) < uniformity(x[:3])
    with pytest.raises(ValueError, match='at least 2'):
        uniformity(x[:1])


# ---------------------------------------------------------------------------
# positivity (MS, eqs. 4.16-4.24)
# ---------------------------------------------------------------------------


def mixed_ms_loss(s, lam, alpha=18.0, beta=75.0, base=0.77):
    return (torch.log1p(lam * torch.exp(-alpha * (s - base))) / alpha +
            torch.log1p((1 - lam) * torch.exp(beta * (s - base))) / beta)


def test_positivity_thresholds_of_the_spec():
    lams = [0.1, 0.3, 0.5, 0.7, 0.9]
    ref = [0.7464, 0.7609, 0.7700, 0.7791, 0.7936]
    np.testing.assert_allclose(ms_positivity_threshold(lams), ref,
                               atol=5e-5)
    assert ms_positivity_threshold(0.5) == pytest.approx(0.77)
    assert isinstance(ms_positivity_threshold(0.3), float)
    assert ms_positivity_threshold(0.0) == -math.inf
    assert ms_positivity_threshold(1.0) == math.inf
    # other constants (PA-like scales)
    assert ms_positivity_threshold(0.9, 2, 50, 0.5) == pytest.approx(
        math.log(9) / 52 + 0.5)
    with pytest.raises(ValueError, match='lam'):
        ms_positivity_threshold(1.5)


@pytest.mark.parametrize('lam', [0.1, 0.3, 0.5, 0.7, 0.9])
def test_threshold_and_grad_agree_with_autograd(lam):
    s = torch.linspace(0.70, 0.84, 71, dtype=torch.float64,
                       requires_grad=True)
    mixed_ms_loss(s, lam).sum().backward()
    auto = s.grad.numpy()
    sv = s.detach().numpy()
    grad = ms_mixed_grad(sv, lam)
    np.testing.assert_allclose(grad, auto, rtol=1e-9, atol=1e-12)
    thr = ms_positivity_threshold(lam)
    away = np.abs(sv - thr) > 1e-9
    assert away.sum() >= 70
    np.testing.assert_array_equal((auto <= 0)[away], (sv <= thr)[away])
    np.testing.assert_array_equal(
        ms_mixed_grad_sign(sv, lam)[away], np.sign(auto)[away])
    # both signs occur on the grid
    assert (auto < 0).any() and (auto > 0).any()


def test_grad_is_stable_for_extreme_inputs():
    s = np.array([-1.0, 0.0, 0.5, 1.0, 5.0, 100.0])
    for lam in (0.0, 1e-12, 0.5, 1 - 1e-12, 1.0):
        g = ms_mixed_grad(s, lam)
        assert np.isfinite(g).all()
        assert ((g >= -1) & (g <= 1)).all()
    assert (ms_mixed_grad(s, 0.0) > 0).all()  # pure negative: never pos.
    # pure positive: always positive (at s = 100 the derivative -1e-774
    # underflows to 0, still <= 0)
    assert (ms_mixed_grad(s, 1.0) <= 0).all()
    assert (ms_mixed_grad(s[:-1], 1.0) < 0).all()
    # broadcasting: one lam per similarity
    g = ms_mixed_grad([0.7, 0.8], [0.9, 0.1])
    assert g.shape == (2, ) and g[0] < 0 < g[1]


def test_pair_sampling_and_mixing():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    i, j = sample_pos_neg_pairs(labels, num_epochs=4, seed=0)
    assert len(i) == len(j) == 40
    assert np.array_equal(np.sort(i), np.repeat(np.arange(10), 4))
    assert (labels[i] != labels[j]).all()
    # partners cover all the other classes (uniform draw)
    i, j = sample_pos_neg_pairs(labels, num_epochs=200, seed=1)
    for c in range(4):
        assert set(labels[j[labels[i] == c]]) == set(range(4)) - {c}
    with pytest.raises(ValueError, match='two classes'):
        sample_pos_neg_pairs(np.zeros(5, int), seed=0)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(10, 6))
    mixed = pos_neg_mixup(emb, labels, num_epochs=2, seed=0)
    assert mixed.shape == (20, 6) and mixed.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(mixed, axis=1), 1, atol=1e-6)
    # lam = 1 gives the first constituent, normalised
    z = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    np.testing.assert_allclose(mix_embeddings(emb, [1, 2], [3, 4], 1.0),
                               z[[1, 2]], atol=1e-6)
    assert pos_neg_mixup(emb, labels, num_epochs=0).shape == (0, 6)


def test_anchor_mixed_similarities_and_curve():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 8)
    emb = rng.normal(size=(48, 16)) + 3 * np.eye(16)[labels]  # clustered
    lams = [0.05, 0.25, 0.5, 0.75, 0.95]
    sims = anchor_mixed_similarities(emb, labels, lams, num_pairs=2000,
                                     seed=0)
    assert sims.shape == (5, 2000)
    assert (np.abs(sims) <= 1 + 1e-9).all()
    # closer to the positive as lam grows: mean similarity increases
    assert (np.diff(sims.mean(axis=1)) > 0).all()
    curve = positivity_curve(sims, lams)
    assert curve['lambda'] == lams
    np.testing.assert_allclose(curve['threshold'],
                               ms_positivity_threshold(lams))
    np.testing.assert_allclose(curve['empirical'], curve['theoretical'])
    assert all(0 <= v <= 1 for v in curve['empirical'])
    # reproducible with a seed
    again = anchor_mixed_similarities(emb, labels, lams, 2000, seed=0)
    np.testing.assert_array_equal(sims, again)
    # the anchor is never the positive: with two points per class and
    # lam = 1 the similarity is that of the class pair
    x = np.array([[1.0, 0], [0.6, 0.8], [-1, 0], [0, -1]])
    s = anchor_mixed_similarities(x, [0, 0, 1, 1], [1.0], 50, seed=0)
    np.testing.assert_allclose(np.sort(np.unique(s.round(5))), [0, 0.6])
    with pytest.raises(ValueError, match='no class has two'):
        anchor_mixed_similarities(x, [0, 1, 2, 3], [0.5], 5, seed=0)
    with pytest.raises(ValueError, match='len\\(lams\\)'):
        positivity_curve(sims, lams[:2])


def test_intra_class_similarity_against_pairs():
    from mmmix.ops.retrieval import intra_class_similarity
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 5, generator=g)
    labels = torch.randint(0, 4, (30, ), generator=g)
    labels[0] = -1  # ignored
    labels[1] = 7  # a singleton class: no pair
    xn = torch.nn.functional.normalize(x.double(), dim=1)
    per_class = []
    for c in range(8):
        rows = [i for i in range(30) if labels[i] == c]
        sims = [float(xn[i] @ xn[j]) for a, i in enumerate(rows)
                for j in rows[a + 1:]]
        if sims:
            per_class.append(sum(sims) / len(sims))
    expected = sum(per_class) / len(per_class)
    assert abs(intra_class_similarity(x, labels) - expected) < 1e-12
    # identical embeddings within each class: similarity 1
    same = torch.eye(3)[torch.tensor([0, 0, 1, 1, 2, 2])]
    assert abs(intra_class_similarity(same, [0, 0, 1, 1, 2, 2]) - 1) < 1e-12
    with pytest.raises(ValueError, match='two embeddings'):
        intra_class_similarity(torch.randn(3, 2), [0, 1, 2])
