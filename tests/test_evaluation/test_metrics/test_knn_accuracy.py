import pytest
import torch

from mmmix.evaluation import KNNAccuracy
from mmmix.registry import METRICS
from tests.test_ops.test_knn import reference_knn_accuracy


def test_metric_matches_reference_and_is_registered():
    g = torch.Generator().manual_seed(0)
    bank = torch.randn(100, 6, generator=g)
    blabels = torch.randint(0, 4, (100, ), generator=g)
    query = torch.randn(30, 6, generator=g)
    qlabels = torch.randint(0, 4, (30, ), generator=g)
    metric = METRICS.build(
        dict(type='KNNAccuracy', num_neighbors=7, topk=(1, 2),
             temperature=0.2))
    assert isinstance(metric, KNNAccuracy)
    metric.set_bank(bank, blabels)
    metric.process(None, [dict(feat=f, gt_label=torch.tensor([int(y)]))
                          for f, y in zip(query[:10], qlabels[:10])])
    metric.process(None, [dict(feat=f, gt_label=int(y))
                          for f, y in zip(query[10:], qlabels[10:])])
    res = metric.evaluate(30)
    top1, top2 = reference_knn_accuracy(query, qlabels, bank, blabels, 7,
                                        0.2, 4)
    assert res['knn/top1_k7'] == pytest.approx(top1)
    assert res['knn/top2_k7'] == pytest.approx(top2)


def test_bank_errors():
    metric = KNNAccuracy(num_neighbors=(5, 50))
    with pytest.raises(ValueError, match='exceeds the bank size'):
        metric.set_bank(torch.randn(10, 3), torch.zeros(10))
    with pytest.raises(ValueError, match='labels'):
        metric.set_bank(torch.randn(60, 3), torch.zeros(59))
