import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from mmmix.ops import calibration_errors, ood_detection_scores


def test_hand_computed_two_bins():
    # bin (0.5, 1]: confidences .9 (right) .7 (wrong) -> acc .5, conf .8
    # bin (0, 0.5]: confidence .4 (right)               -> acc 1, conf .4
    probs = torch.tensor([[.9, .1, 0.], [.3, .7, 0.], [.4, .3, .3]])
    labels = torch.tensor([0, 0, 0])
    ece, oe = calibration_errors(probs, labels, num_bins=2)
    assert ece == pytest.approx(100 * (2 / 3 * .3 + 1 / 3 * .6))
    assert oe == pytest.approx(100 * (2 / 3 * .8 * .3))


def test_perfectly_calibrated_predictions_have_small_ece():
    g = torch.Generator().manual_seed(0)
    n = 200000
    conf = 0.1 + 0.9 * torch.rand(n, generator=g)
    correct = torch.rand(n, generator=g) < conf  # right with prob = conf
    probs = torch.stack([conf, 1 - conf], 1)
    labels = torch.where(correct, 0, 1)
    # conf < .5 makes class 1 the prediction; keep the top-1 semantics
    keep = conf > 0.5
    ece, oe = calibration_errors(probs[keep], labels[keep])
    assert ece < 0.5 and oe <= ece
    # always wrong and fully confident: ECE = OE = 100
    ece, oe = calibration_errors(torch.tensor([[1., 0.]] * 4),
                                 torch.ones(4, dtype=torch.long))
    assert ece == pytest.approx(100) and oe == pytest.approx(100)


@pytest.mark.parametrize('seed', range(4))
def test_ood_scores_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    ident = np.round(rng.normal(1, 1, 300), 1)  # rounding makes ties
    ood = np.round(rng.normal(0, 1, 200), 1)
    res = ood_detection_scores(torch.from_numpy(ident), torch.from_numpy(ood),
                               threshold=0.5)
    y = np.r_[np.ones(300), np.zeros(200)]
    s = np.r_[ident, ood]
    assert res['auroc'] == pytest.approx(100 * roc_auc_score(y, s))
    assert res['aupr_in'] == pytest.approx(
        100 * average_precision_score(y, s))
    assert res['aupr_out'] == pytest.approx(
        100 * average_precision_score(1 - y, -s))
    det = 0.5 * ((ident >= .5).mean() + (ood < .5).mean())
    assert res['det_acc'] == pytest.approx(100 * det)
    best = max(0.5 * ((ident >= t).mean() + (ood < t).mean())
               for t in np.r_[s, np.inf])
    assert res['det_acc_best'] == pytest.approx(100 * best)


def test_ood_extremes():
    sep = ood_detection_scores(torch.tensor([.9, .8]), torch.tensor([.1, .2]))
    assert sep['auroc'] == sep['aupr_in'] == sep['aupr_out'] == 100
    same = ood_detection_scores(torch.full((50, ), .7), torch.full((50, ), .7))
    assert same['auroc'] == pytest.approx(50)
    with pytest.raises(ValueError, match='non-empty'):
        ood_detection_scores(torch.tensor([]), torch.tensor([.1]))


def test_bad_input():
    with pytest.raises(ValueError, match='num_bins'):
        calibration_errors(torch.rand(3, 2), torch.zeros(3), num_bins=0)
    with pytest.raises(ValueError, match='probs must be'):
        calibration_errors(torch.rand(3), torch.zeros(3))
