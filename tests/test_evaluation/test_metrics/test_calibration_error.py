import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

from mmmix.evaluation import CalibrationError
from mmmix.ops import calibration_errors
from mmmix.registry import METRICS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)


def test_evaluator_with_mmpretrain_style_predictions():
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(3 * torch.randn(40, 5, generator=g), 1)
    labels = torch.randint(0, 5, (40, ), generator=g)
    evaluator = Evaluator(METRICS.build(dict(type='CalibrationError',
                                             num_bins=10)))
    for i in range(0, 40, 8):  # batches of DataSample, as a val loop does
        samples = [DataSample().set_pred_score(p).set_gt_label(int(y))
                   for p, y in zip(probs[i:i + 8], labels[i:i + 8])]
        evaluator.process(samples)
    res = evaluator.evaluate(40)
    ece, oe = calibration_errors(probs, labels, 10)
    assert res['calibration/ece'] == pytest.approx(ece)
    assert res['calibration/oe'] == pytest.approx(oe)


def test_bad_bins():
    with pytest.raises(ValueError, match='num_bins'):
        CalibrationError(num_bins=0)
