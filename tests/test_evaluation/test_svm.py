"""VOC07 SVM / low-shot SVM (mmmix.evaluation.svm): AP against hand-computed
values, separable vs random features, cost selection, low-shot sampling."""
import numpy as np
import pytest
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold

from mmmix.evaluation import svm


def multilabel(n, num_classes=3, seed=0, noise=0.05, dims=8,
               separable=True):
    """Features whose first ``num_classes`` dims say which classes are
    present (plus noise), or pure noise; every image has >= 1 class."""
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, num_classes)) < 0.4).astype(np.int8)
    targets[targets.sum(1) == 0, rng.integers(num_classes)] = 1
    feats = rng.normal(0, noise if separable else 1., (n, dims))
    if separable:
        feats[:, :num_classes] += targets
    return feats, targets


def reference_style_ap(scores, labels):
    """The VOC AP written as a loop over the ranked list: precision made
    monotone from the end, summed where recall changes."""
    keep = labels != -1
    scores, pos = scores[keep], labels[keep] == 1
    order = np.argsort(-scores, kind='stable')
    pos = pos[order]
    tp = fp = 0
    prec, rec = [0.], [0.]
    for p in pos:
        tp, fp = tp + p, fp + (not p)
        prec.append(tp / (tp + fp))
        rec.append(tp / pos.sum())
    prec.append(0.)
    rec.append(1.)
    for i in range(len(prec) - 2, -1, -1):
        prec[i] = max(prec[i], prec[i + 1])
    return sum((rec[i] - rec[i - 1]) * prec[i] for i in range(1, len(rec))
               if rec[i] != rec[i - 1])


def test_voc_ap_hand_computed():
    # ranking N P P: precision at the hits 1/2, 2/3; the envelope lifts the
    # first to 2/3: AP = 1/2 * 2/3 + 1/2 * 2/3 = 2/3. sklearn's
    # (non-interpolated) AP would be 1/2 * 1/2 + 1/2 * 2/3 = 7/12.
    scores = np.array([3., 2., 1.])
    labels = np.array([0, 1, 1])
    assert svm.voc_ap(scores, labels) == pytest.approx(2 / 3)
    assert average_precision_score(labels, scores) == pytest.approx(7 / 12)
    # ranking P N P N N P: precision at the hits 1, 2/3, 1/2 (already
    # decreasing), recall steps 1/3 each: AP = (1 + 2/3 + 1/2) / 3 = 13/18
    scores = np.arange(6, 0, -1.)
    labels = np.array([1, 0, 1, 0, 0, 1])
    assert svm.voc_ap(scores, labels) == pytest.approx(13 / 18)
    # negatives as -1 are ignored entries, not negatives: 0 is the negative
    # label here; ignored images (-1) anywhere do not count
    ignored = np.array([1, -1, 0, 1, -1, 0, 0, 1])
    ign_scores = np.array([9, 8.5, 8, 7, 6.5, 6, 5, 4.])
    assert svm.voc_ap(ign_scores, ignored) == pytest.approx(13 / 18)
    # no positive: undefined
    assert np.isnan(svm.voc_ap([1., 2.], [0, -1]))


def test_voc_ap_matches_loop_on_random_rankings():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(5, 40))
        labels = rng.choice([-1, 0, 1], n, p=[.1, .6, .3])
        labels[0] = 1
        scores = np.round(rng.normal(size=n), 1)  # some ties
        assert svm.voc_ap(scores, labels) == pytest.approx(
            reference_style_ap(scores, labels))


def test_voc_targets_and_normalisation():
    # image 0: class 0; image 1: class 1 only difficult -> ignored;
    # image 2: class 2 both difficult and not -> present
    targets = svm.voc_targets([[0], [], [2]], [[], [1], [2]], 3)
    assert targets.tolist() == [[1, 0, 0], [0, -1, 0], [0, 0, 1]]
    feats = svm.l2_normalize(np.array([[3., 4.], [0., 2.]]))
    assert np.allclose(feats, [[.6, .8], [0., 1.]], atol=1e-5)
    with pytest.raises(ValueError, match='1 \\(present\\)'):
        svm.check_targets(np.array([[2, 0]]))


def test_separable_features_give_full_map():
    xtr, ytr = multilabel(60, seed=0)
    xte, yte = multilabel(40, seed=1)
    res = svm.svm_eval(xtr, ytr, xte, yte, costs=(1., 10.))
    assert res['mAP'] == pytest.approx(100.)
    assert len(res['ap']) == 3 and res['not_converged'] == []


def test_random_features_give_low_map():
    xtr, ytr = multilabel(60, seed=0, separable=False)
    xte, yte = multilabel(40, seed=1, separable=False)
    res = svm.svm_eval(xtr, ytr, xte, yte, costs=(1., 10.))
    # chance AP is about the class frequency (~0.45 here)
    assert res['mAP'] < 70.
    assert res['mAP'] < svm.svm_eval(
        *multilabel(60, seed=0), *multilabel(40, seed=1),
        costs=(1., ))['mAP'] - 25


@pytest.mark.filterwarnings('ignore::sklearn.exceptions.ConvergenceWarning')
def test_cost_selection_from_the_grid_by_stratified_3_fold_ap():
    x, y = multilabel(60, seed=2, noise=0.8)
    x = svm.l2_normalize(x)
    labels = np.where(y[:, 0] == 1, 1, -1)
    costs = (0.01, 1., 100.)
    best, aps = svm.select_cost(x, labels, costs)
    assert 0 <= best < 3 and aps[best] == aps.max()
    # the cross-validation by hand: stratified folds in order, sklearn AP
    # of the decision values of the held-out fold, averaged
    for cost, ap in zip(costs, aps):
        fold_aps = []
        for tr, te in StratifiedKFold(3).split(x, labels):
            clf = svm.make_svm(cost).fit(x[tr], labels[tr])
            fold_aps.append(average_precision_score(
                labels[te], clf.decision_function(x[te])))
        assert ap == pytest.approx(np.mean(fold_aps))
    res = svm.svm_eval(x, y, x, y, costs=costs)
    assert set(res['cost']) <= set(costs)
    assert np.array(res['cv_ap']).shape == (3, 3)
    assert res['cost'][0] == costs[best]
    with pytest.raises(ValueError, match='positives'):
        svm.select_cost(x[:4], np.array([1, -1, -1, -1]))


def test_difficult_images():
    xtr, ytr = multilabel(60, seed=0, noise=0.5)
    xte, yte = multilabel(40, seed=1, noise=0.5)
    # ignored test images count nowhere: the same AP as without them
    yte_ign = yte.copy()
    yte_ign[:10, 0] = -1
    full = svm.svm_eval(xtr, ytr, xte, yte_ign, costs=(1., ))
    part = svm.svm_eval(xtr, ytr, xte[10:], yte[10:], costs=(1., ))
    assert full['ap'][0] == pytest.approx(part['ap'][0])
    # in training: negatives (reference) or left out
    ytr_ign = ytr.copy()
    ytr_ign[:10, 0] = -1
    neg = svm.svm_eval(xtr, ytr_ign, xte, yte, costs=(1., ))
    ign = svm.svm_eval(xtr, ytr_ign, xte, yte, costs=(1., ),
                       train_difficult='ignore')
    ign_by_hand = svm.svm_eval(xtr[10:], ytr[10:], xte, yte, costs=(1., ))
    assert ign['ap'][0] == pytest.approx(ign_by_hand['ap'][0])
    assert neg['ap'][1:] == pytest.approx(ign['ap'][1:])


def test_low_shot_sampling():
    _, targets = multilabel(80, seed=3)
    targets[:5, 1] = -1  # some ignored entries are never sampled
    for shots in (1, 2, 4):
        out = svm.low_shot_targets(targets, shots, svm.low_shot_rng(0, 0,
                                                                    shots))
        assert (out == 1).sum(0).tolist() == [shots] * 3
        assert (out == 0).sum(0).tolist() == [2 * shots] * 3
        # sampled entries keep their label; the rest is left out
        assert np.all((out == -1) | (out == targets))
        # deterministic with the seed, different across seeds / samples
        again = svm.low_shot_targets(targets, shots,
                                     svm.low_shot_rng(0, 0, shots))
        assert np.array_equal(out, again)
    assert not np.array_equal(
        svm.low_shot_targets(targets, 4, svm.low_shot_rng(0, 0, 4)),
        svm.low_shot_targets(targets, 4, svm.low_shot_rng(1, 0, 4)))
    assert not np.array_equal(
        svm.low_shot_targets(targets, 4, svm.low_shot_rng(0, 1, 4)),
        svm.low_shot_targets(targets, 4, svm.low_shot_rng(0, 0, 4)))
    with pytest.raises(ValueError, match='positives'):
        svm.low_shot_targets(targets, 80, np.random.default_rng(0))


def test_low_shot_eval():
    xtr, ytr = multilabel(80, seed=0, noise=0.3)
    xte, yte = multilabel(40, seed=1, noise=0.3)
    kwargs = dict(shots=(1, 4), num_samples=2, seed=0)
    res = svm.low_shot_eval(xtr, ytr, xte, yte, costs=(1., 10.), **kwargs)
    assert res['shots'] == [1, 4] and res['num_samples'] == 2
    assert np.array(res['map']).shape == (2, 2, 2)  # shots, samples, costs
    maps = np.array(res['map'])
    for i, k in enumerate((1, 4)):
        j = res['costs'].index(res['cost'][k])
        # the cost of each shot count: best mean over samples
        assert res['per_shot'][k] == pytest.approx(maps[i, :, j].mean())
        assert res['per_shot'][k] == pytest.approx(
            maps[i].mean(axis=0).max())
    assert res['mean_mAP'] == pytest.approx(
        np.mean(list(res['per_shot'].values())))
    assert res['per_shot'][4] > 80.
    # fixed cost, and the same numbers on a second run
    fixed = svm.low_shot_eval(xtr, ytr, xte, yte, costs=(10., ), **kwargs)
    assert fixed['cost'] == {1: 10., 4: 10.}
    np.testing.assert_allclose(fixed['map'], maps[:, :, 1:])
