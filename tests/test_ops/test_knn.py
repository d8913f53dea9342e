import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmix.ops import knn_accuracy, knn_search, weighted_knn_scores


def brute_force_knn(query, bank, k, metric):
    q, b = query.double(), bank.double()
    if metric == 'ip':
        scores = q @ b.T
        return scores.topk(k, dim=1)
    dist = torch.cdist(q, b) ** 2
    vals, idx = dist.topk(k, dim=1, largest=False)
    return vals, idx


@pytest.mark.parametrize('metric', ['ip', 'l2'])
@pytest.mark.parametrize('seed', range(5))
def test_knn_search_matches_brute_force(metric, seed):
    g = torch.Generator().manual_seed(seed)
    n, q, d = int(torch.randint(30, 300, (1, ), generator=g)), 40, 17
    bank = torch.randn(n, d, generator=g)
    query = torch.randn(q, d, generator=g)
    k = int(torch.randint(1, n, (1, ), generator=g))
    scores, idx = knn_search(query, bank, k, metric=metric)
    ref_scores, ref_idx = brute_force_knn(query, bank, k, metric)
    assert scores.shape == idx.shape == (q, k)
    torch.testing.assert_close(scores.double(), ref_scores, rtol=1e-4,
                               atol=1e-4)
    # same neighbours (random float data: no ties)
    assert torch.equal(idx, ref_idx)


def test_knn_search_keeps_device_and_validates():
    bank, query = torch.randn(10, 4), torch.randn(3, 4)
    s, i = knn_search(query, bank, 10)
    assert s.device == query.device and i.dtype == torch.int64
    with pytest.raises(ValueError, match=r'k must be in \[1, 10\]'):
        knn_search(query, bank, 11)
    with pytest.raises(ValueError, match='same width'):
        knn_search(torch.randn(3, 5), bank, 2)
    with pytest.raises(ValueError, match='metric'):
        knn_search(query, bank, 2, metric='cos')


def test_weighted_scores_hand_computed():
    # one query, neighbours with labels [1, 0, 1], sims [0.9, 0.8, 0.1]
    sims = torch.tensor([[0.9, 0.8, 0.1]])
    idx = torch.tensor([[2, 0, 1]])
    bank_labels = torch.tensor([0, 1, 1])
    t = 0.5
    scores = weighted_knn_scores(sims, idx, bank_labels, 3, t)
    expected = torch.tensor([[np.exp(0.8 / t), np.exp(0.9 / t) +
                              np.exp(0.1 / t), 0.0]], dtype=torch.float32)
    torch.testing.assert_close(scores, expected)
    with pytest.raises(ValueError, match='temperature'):
        weighted_knn_scores(sims, idx, bank_labels, 3, 0)


def reference_knn_accuracy(query, qlabels, bank, blabels, k, t, num_classes):
    """Loop-per-query numpy implementation of the weighted k-NN vote."""
    q = F.normalize(query.double(), dim=1).numpy()
    b = F.normalize(bank.double(), dim=1).numpy()
    correct_top1, correct_top2 = 0, 0
    for i in range(len(q)):
        sims = b @ q[i]
        nn = np.argsort(-sims)[:k]
        votes = np.zeros(num_classes)
        for j in nn:
            votes[blabels[j]] += np.exp(sims[j] / t)
        order = [c for c in np.argsort(-votes, kind='stable') if votes[c] > 0]
        correct_top1 += order[0] == qlabels[i]
        correct_top2 += qlabels[i] in order[:2]
    return 100 * correct_top1 / len(q), 100 * correct_top2 / len(q)


@pytest.mark.parametrize('seed', range(3))
def test_knn_accuracy_matches_reference(seed):
    g = torch.Generator().manual_seed(seed)
    num_classes, d = 5, 8
    centers = torch.randn(num_classes, d, generator=g)
    blabels = torch.randint(0, num_classes, (200, ), generator=g)
    qlabels = torch.randint(0, num_classes, (60, ), generator=g)
    bank = centers[blabels] + 0.9 * torch.randn(200, d, generator=g)
    query = centers[qlabels] + 0.9 * torch.randn(60, d, generator=g)
    res = knn_accuracy(query, qlabels, bank, blabels, num_neighbors=(3, 20),
                       topk=(1, 2), temperature=0.1, num_classes=num_classes)
    for k in (3, 20):
        top1, top2 = reference_knn_accuracy(query, qlabels, bank, blabels, k,
                                            0.1, num_classes)
        assert res[f'top1_k{k}'] == pytest.approx(top1)
        assert res[f'top2_k{k}'] == pytest.approx(top2)
    # the data are separable enough that the classifier is far above chance
    assert res['top1_k20'] > 60
