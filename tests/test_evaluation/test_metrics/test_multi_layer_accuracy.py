"""MultiLayerAccuracy against accuracies counted by hand."""
import pytest
import torch

from mmmix.evaluation import MultiLayerAccuracy
from mmmix.registry import METRICS


def _sample(label, **scores):
    return dict(gt_label=torch.tensor([label]),
                multi_layer_scores={k: torch.tensor(v)
                                    for k, v in scores.items()})


# 4 samples, 3 classes. Ranking of each layer's scores per sample:
#   sample (label)  res4 order    res5 order
#   0 (0)           0 > 1 > 2     1 > 0 > 2
#   1 (1)           2 > 1 > 0     1 > 2 > 0
#   2 (2)           0 > 1 > 2     2 > 0 > 1
#   3 (2)           2 > 0 > 1     0 > 1 > 2
# res4: top-1 hits samples 0, 3 -> 50%; top-2 adds sample 1 -> 75%
# res5: top-1 hits samples 1, 2 -> 50%; top-2 adds sample 0 -> 75%
# equal top-1: the deeper layer (res5, position 2) is the best
SAMPLES = [
    _sample(0, res4=[.7, .2, .1], res5=[.3, .6, .1]),
    _sample(1, res4=[.1, .3, .6], res5=[.1, .5, .4]),
    _sample(2, res4=[.5, .3, .2], res5=[.3, .2, .5]),
    _sample(2, res4=[.3, .1, .6], res5=[.5, .3, .2]),
]


def test_hand_computed_accuracies():
    metric = METRICS.build(dict(type='MultiLayerAccuracy', topk=(1, 2)))
    assert isinstance(metric, MultiLayerAccuracy)
    metric.process(None, SAMPLES[:3])
    metric.process(None, SAMPLES[3:])
    res = metric.evaluate(4)
    assert res == pytest.approx({
        'multi_layer/res4_top1': 50., 'multi_layer/res4_top2': 75.,
        'multi_layer/res5_top1': 50., 'multi_layer/res5_top2': 75.,
        'multi_layer/best_top1': 50., 'multi_layer/best_top2': 75.,
        'multi_layer/best_layer': 2,
    })


def test_best_layer_and_top_k_beyond_the_classes():
    # res4 gets sample 2 right as well: 3 / 4 top-1, best layer 1
    samples = [dict(s) for s in SAMPLES]
    samples[2] = _sample(2, res4=[.1, .3, .6], res5=[.3, .2, .5])
    metric = MultiLayerAccuracy(topk=(1, 5), prefix='probe')
    metric.process(None, samples)
    res = metric.evaluate(4)
    assert res['probe/res4_top1'] == 75.
    assert res['probe/best_top1'] == 75.
    assert res['probe/best_layer'] == 1
    # k = 5 > 3 classes: every label is within the top 5
    assert res['probe/res5_top5'] == 100.


def test_errors():
    with pytest.raises(ValueError, match='topk'):
        MultiLayerAccuracy(topk=(0, ))
    metric = MultiLayerAccuracy()
    with pytest.raises(KeyError, match='multi_layer_scores'):
        metric.process(None, [dict(gt_label=torch.tensor([0]))])
