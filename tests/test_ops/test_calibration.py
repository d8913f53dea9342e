import math

import numpy as np
import pytest
import torch

from mmmix.ops import calibration_errors, ood_detection_scores

try:
    from sklearn.metrics import average_precision_score, roc_auc_score
except ImportError:  # optional: only the comparisons with it are skipped
    average_precision_score = roc_auc_score = None
needs_sklearn = pytest.mark.skipif(roc_auc_score is None,
                                   reason='scikit-learn is not installed')


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


@needs_sklearn
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


# --- ood_detection_scores against a brute-force reference -----------------


def brute_force_ood_detection_scores(id_scores, ood_scores, threshold=0.5):
    """The former O(N^2) implementation of ``ood_detection_scores``, kept
    verbatim (apart from names) as an independent reference."""
    id_scores = id_scores.double().flatten()
    ood_scores = ood_scores.double().flatten()

    def tpr_tnr_at(t):
        return ((id_scores >= t).double().mean(),
                (ood_scores < t).double().mean())

    tpr, tnr = tpr_tnr_at(threshold)
    det = 0.5 * (tpr + tnr)
    cand = torch.cat([id_scores, ood_scores,
                      torch.tensor([float('inf')], dtype=torch.float64)])
    tpr_all = (id_scores[None] >= cand[:, None]).double().mean(1)
    tnr_all = (ood_scores[None] < cand[:, None]).double().mean(1)
    det_best = (0.5 * (tpr_all + tnr_all)).max()
    return dict(
        det_acc=float(det) * 100,
        det_acc_best=float(det_best) * 100,
        auroc=_brute_force_roc_auc(id_scores, ood_scores) * 100,
        aupr_in=_brute_force_average_precision(id_scores, ood_scores) * 100,
        aupr_out=_brute_force_average_precision(-ood_scores, -id_scores) *
        100)


def _brute_force_roc_auc(pos, neg):
    """P(pos > neg) + 0.5 P(pos == neg), by ranks (Mann-Whitney U)."""
    scores = torch.cat([pos, neg])
    order = scores.argsort()
    ranks = torch.empty_like(scores)
    sorted_scores = scores[order]
    _, inverse, counts = torch.unique_consecutive(
        sorted_scores, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    avg = ends - (counts.double() - 1) / 2
    ranks[order] = avg[inverse]
    n_pos, n_neg = len(pos), len(neg)
    u = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def _brute_force_average_precision(pos, neg):
    """Step-wise average precision, thresholds at every distinct score."""
    scores = torch.cat([pos, neg])
    is_pos = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
    order = scores.argsort(descending=True)
    scores, is_pos = scores[order], is_pos[order]
    tp = is_pos.cumsum(0)
    fp = (1 - is_pos).cumsum(0)
    last = torch.ones_like(scores, dtype=torch.bool)
    last[:-1] = scores[1:] != scores[:-1]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / len(pos)
    prev = torch.cat([recall.new_zeros(1), recall[:-1]])
    return float(((recall - prev) * precision).sum())


def _ood_cases():
    """(name, id_scores, ood_scores, threshold): ties, tiny parts, perfect
    and inverted separation, identical distributions, integer scores."""
    rng = np.random.default_rng(1234)

    def t(a):
        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    cases = [
        ('single_each', t([.7]), t([.3]), .5),
        ('single_tie', t([.4]), t([.4]), .4),
        ('single_inverted', t([.2]), t([.9]), .5),
        ('tiny_ties', t([.5, .5, .9]), t([.5, .1]), .5),
        ('perfect', t([.9, .8, .95]), t([.1, .2]), .5),
        ('perfect_inverted', t([.1, .2]), t([.9, .8, .95]), .5),
        ('identical_const', t(np.full(50, .7)), t(np.full(30, .7)), .5),
        ('all_tied_at_threshold', t(np.full(5, .5)), t(np.full(7, .5)), .5),
    ]
    for i in range(4):  # continuous, different sizes and thresholds
        n, m = rng.integers(1, 400, 2)
        cases.append((f'normal_{i}', t(rng.normal(1, 1, n)),
                      t(rng.normal(0, 1.5, m)), float(rng.normal(.5, .5))))
    for i in range(3):  # integer scores: many ties
        n, m = rng.integers(5, 300, 2)
        cases.append((f'int_{i}', t(rng.integers(0, 6, n)),
                      t(rng.integers(0, 4, m)), float(rng.integers(0, 5))))
    for i in range(2):
        cases.append((f'same_dist_{i}', t(rng.uniform(size=200)),
                      t(rng.uniform(size=150)), .5))
    cases.append(('rounded', t(np.round(rng.normal(1, 1, 300), 1)),
                  t(np.round(rng.normal(0, 1, 200), 1)), .5))
    cases.append(('binary_scores', t(rng.integers(0, 2, 40)),
                  t(rng.integers(0, 2, 60)), .5))
    cases.append(('with_inf', t([np.inf, .9, .3, -np.inf]),
                  t([np.inf, .2, -np.inf]), .5))
    cases.append(('shared_values_unbalanced', t([.3] * 9 + [.6]),
                  t([.3, .6, .6]), .6))
    return cases


OOD_CASES = _ood_cases()
OOD_KEYS = {'det_acc', 'det_acc_best', 'auroc', 'aupr_in', 'aupr_out'}


@pytest.mark.parametrize('name, ident, ood, threshold', OOD_CASES,
                         ids=[c[0] for c in OOD_CASES])
def test_ood_scores_match_brute_force(name, ident, ood, threshold):
    res = ood_detection_scores(ident, ood, threshold)
    ref = brute_force_ood_detection_scores(ident, ood, threshold)
    assert set(res) == set(ref) == OOD_KEYS
    for key in OOD_KEYS:
        assert res[key] == pytest.approx(ref[key], abs=1e-6), key
    # the order of the samples within each part does not matter
    g = torch.Generator().manual_seed(0)
    shuffled = ood_detection_scores(
        ident[torch.randperm(len(ident), generator=g)],
        ood[torch.randperm(len(ood), generator=g)], threshold)
    assert shuffled == pytest.approx(res, abs=1e-9)


@needs_sklearn
@pytest.mark.parametrize('name, ident, ood, threshold', [
    c for c in OOD_CASES if np.isfinite(torch.cat(c[1:3]).numpy()).all()
], ids=lambda v: v if isinstance(v, str) else '')
def test_ood_cases_match_sklearn(name, ident, ood, threshold):
    res = ood_detection_scores(ident, ood, threshold)
    y = np.r_[np.ones(len(ident)), np.zeros(len(ood))]
    s = torch.cat([ident, ood]).numpy()
    assert res['auroc'] == pytest.approx(100 * roc_auc_score(y, s), abs=1e-6)
    assert res['aupr_in'] == pytest.approx(
        100 * average_precision_score(y, s), abs=1e-6)
    assert res['aupr_out'] == pytest.approx(
        100 * average_precision_score(1 - y, -s), abs=1e-6)


def test_ood_tied_scores_are_one_threshold_step():
    # .5 is shared by 2 ID and 1 OOD: no threshold separates them. Best
    # detection accuracy over t in {.9, .5, .1, inf}: (1/3 + 1) / 2,
    # (1 + 1/2) / 2, (1 + 0) / 2, (0 + 1) / 2 -> 3/4 at t = .5
    res = ood_detection_scores(torch.tensor([.5, .5, .9]),
                               torch.tensor([.5, .1]))
    assert res['det_acc_best'] == pytest.approx(100 * 3 / 4)
    # AUROC: pairs (id > ood) = 1*2 + 2*1 = 4, ties 2 -> (4 + 1) / 6
    assert res['auroc'] == pytest.approx(100 * 5 / 6)
    # AP (ID): at .9 P=1 R=1/3; at .5 P=3/4 R=1 -> 1/3 + 2/3 * 3/4
    assert res['aupr_in'] == pytest.approx(100 * (1 / 3 + 2 / 3 * 3 / 4))
    # AP (OOD, negated): at -.1 P=1 R=1/2; at -.5 P=2/4 R=1 -> 1/2 + 1/4
    assert res['aupr_out'] == pytest.approx(100 * (1 / 2 + 1 / 4))


def test_ood_protocol_size_runs():
    """10k ID + 10k OOD, the size of the OOD protocol (no timing check)."""
    g = torch.Generator().manual_seed(0)
    ident = 0.5 + 0.5 * torch.rand(10000, generator=g, dtype=torch.float64)
    ood = torch.rand(10000, generator=g, dtype=torch.float64)
    res = ood_detection_scores(ident, ood)
    assert set(res) == OOD_KEYS
    assert all(0 <= v <= 100 and math.isfinite(v) for v in res.values())
    # ID ~ U(.5, 1), OOD ~ U(0, 1): AUROC = 3/4, best threshold .5 -> 3/4
    assert res['auroc'] == pytest.approx(75, abs=1)
    assert res['det_acc_best'] == pytest.approx(75, abs=1)
    assert res['det_acc'] <= res['det_acc_best']
    # float32 scores (as the metric may pass) give the same ranking metrics
    res32 = ood_detection_scores(ident.float(), ood.float())
    assert res32['auroc'] == pytest.approx(res['auroc'], abs=1e-3)


def test_ood_bad_input():
    good = torch.tensor([.1, .2])
    for bad, match in [(torch.tensor([]), 'id_scores must be non-empty'),
                       (torch.rand(2, 2), 'id_scores must be 1-D'),
                       (torch.tensor(.3), 'id_scores must be 1-D'),
                       (torch.tensor([.1, float('nan')]),
                        'id_scores contains NaN')]:
        with pytest.raises(ValueError, match=match):
            ood_detection_scores(bad, good)
        with pytest.raises(ValueError,
                           match=match.replace('id_scores', 'ood_scores')):
            ood_detection_scores(good, bad)
    with pytest.raises(ValueError, match='threshold must not be NaN'):
        ood_detection_scores(good, good, float('nan'))
