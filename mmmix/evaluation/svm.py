"""VOC07 linear-SVM and low-shot SVM evaluation of frozen features.

The benchmark of Goyal et al. 2019 ("Scaling and Benchmarking
Self-Supervised Visual Representation Learning", its
fair_self_supervision_benchmark tools, which mmselfsup 0.x ships as
``tools/benchmarks/classification/svm_voc07``) that InterCLR reports
(spec interclr.md §5.3, §5.4, U11). Written here from the protocol; the
reference tools were read to match it:

* targets: an ``(n, num_classes)`` int matrix, 1 = present, 0 = absent,
  -1 = ignored (VOC "difficult": the class is in the image only as
  difficult objects). :func:`voc_targets` builds it from mmpretrain's
  ``VOC`` dataset fields (``gt_label``, ``gt_label_difficult``);
* features L2-normalised as ``x / (||x|| + 1e-5)``, in float64;
* one-vs-rest ``LinearSVC(C, class_weight={1: 2, -1: 1},
  loss='squared_hinge', penalty='l2', dual=True, tol=1e-4,
  max_iter=2000)`` per class, labels 0 -> -1;
* full training set (:func:`svm_eval`): the cost of each class is the one
  of ``costs`` with the best mean AP over a 3-fold cross-validation on the
  training set (sklearn's ``cross_val_score(..., cv=3,
  scoring='average_precision')``: stratified folds in order, sklearn's
  non-interpolated AP); the reference tools keep the ignored (-1) images in
  this training as negatives (``train_difficult='negative'``, the
  default), ``'ignore'`` drops them;
* test AP (:func:`voc_ap`) is the VOC-style AP of the reference
  ``svm_helper.get_precision_recall`` / ``calculate_ap``: the area under
  the precision-recall curve whose precision is made monotone (each
  precision replaced by the best precision at an equal or higher recall),
  summed over the points where recall changes ("all points", as VOC 2010+
  and Detectron compute it, not the 11-point VOC07 variant and not
  sklearn's ``average_precision_score``); ignored images do not count;
* low shot (:func:`low_shot_eval`): for each number of shots ``n`` and
  each independent sample, per class ``n`` random positives and
  ``(num_classes - 1) * n`` random negatives (images marked 0) are the
  training set of that class's SVM, everything else is left out (the
  reference ``create_voc_low_shot_challenge_samples.py``); every cost is
  trained and tested on the full test set; the mAP of ``n`` is the one of
  the cost with the best mean over samples (the reference
  ``aggregate_low_shot_svm_stats.py``: this picks the cost on the test
  set, as the published numbers do; give a single cost for a fixed-cost
  evaluation). The reported number is the mean over ``n`` of these.

The reference tools also append ``0.5 ** k`` for ``k = 4 .. 19`` to the
costs they are given (``svm_helper.parse_cost_list``);
:func:`reference_costs` gives that list. The paper and the spec name
{1, 10, 100}, the default here.
"""
import contextlib
import warnings
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

#: the costs of the paper / spec (spec interclr.md §5.3)
DEFAULT_COSTS = (1.0, 10.0, 100.0)
#: numbers of positives per class of the low-shot benchmark (spec §5.4)
LOW_SHOT_SHOTS = (1, 2, 4, 8, 16, 32, 64, 96)
#: independent samples per number of shots
LOW_SHOT_SAMPLES = 5


def reference_costs(costs: Sequence[float] = DEFAULT_COSTS
                    ) -> Tuple[float, ...]:
    """``costs`` plus ``0.5 ** k`` for k = 4..19, as the reference tools'
    ``parse_cost_list`` extends the costs they are given."""
    return tuple(float(c) for c in costs) + tuple(0.5**k
                                                  for k in range(4, 20))


def l2_normalize(feats, eps: float = 1e-5) -> np.ndarray:
    """Rows divided by their L2 norm plus ``eps``, as float64."""
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2:
        raise ValueError(f'features must be (n, d), got {feats.shape}')
    return feats / (np.linalg.norm(feats, axis=1, keepdims=True) + eps)


def voc_targets(gt_labels: Iterable, gt_labels_difficult: Iterable,
                num_classes: int) -> np.ndarray:
    """The ``(n, num_classes)`` 1 / 0 / -1 target matrix of a VOC split.

    ``gt_labels[i]`` are the classes with a non-difficult object in image
    ``i`` and ``gt_labels_difficult[i]`` those with a difficult one
    (mmpretrain's ``VOC`` data infos): a class only present as difficult
    objects is -1 (ignored), as VOC's ``ImageSets/Main/<class>_*.txt``
    files mark it 0 and the reference tools map that to -1.
    """
    gt_labels = list(gt_labels)
    gt_labels_difficult = list(gt_labels_difficult)
    if len(gt_labels) != len(gt_labels_difficult):
        raise ValueError(f'{len(gt_labels)} label lists but '
                         f'{len(gt_labels_difficult)} difficult lists')
    targets = np.zeros((len(gt_labels), num_classes), dtype=np.int8)
    for i, (pos, diff) in enumerate(zip(gt_labels, gt_labels_difficult)):
        diff = np.asarray(diff if diff is not None else [], dtype=np.int64)
        pos = np.asarray(pos if pos is not None else [], dtype=np.int64)
        targets[i, diff.reshape(-1)] = -1
        targets[i, pos.reshape(-1)] = 1
    return targets


def check_targets(targets, num_samples: Optional[int] = None) -> np.ndarray:
    """``targets`` as an ``(n, C)`` int8 array of 1 / 0 / -1 values."""
    targets = np.asarray(targets)
    if targets.ndim != 2:
        raise ValueError(f'targets must be (n, num_classes), got '
                         f'{targets.shape}')
    if not np.isin(targets, (-1, 0, 1)).all():
        raise ValueError('targets must hold 1 (present), 0 (absent) or -1 '
                         '(ignored) only')
    if num_samples is not None and len(targets) != num_samples:
        raise ValueError(f'{len(targets)} targets for {num_samples} '
                         'feature rows')
    return targets.astype(np.int8)


def voc_ap(scores, labels) -> float:
    """VOC-style ("all points", interpolated) average precision in [0, 1].

    Args:
        scores: ``(n,)`` decision values, higher = more confident.
        labels: ``(n,)`` 1 = positive, 0 = negative, -1 = ignored (left
            out). Ties in ``scores`` keep the input order.

    Returns:
        float: AP, NaN when there is no positive.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if scores.shape != labels.shape:
        raise ValueError(f'{scores.shape[0]} scores for {labels.shape[0]} '
                         'labels')
    keep = labels != -1
    scores, pos = scores[keep], labels[keep] > 0
    num_pos = int(pos.sum())
    if num_pos == 0:
        return float('nan')
    order = np.argsort(-scores, kind='stable')
    pos = pos[order]
    tp = np.cumsum(pos)
    precision = tp / np.arange(1, len(pos) + 1)
    recall = tp / num_pos
    # precision envelope: best precision at this or any higher recall
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    # area: each step up in recall (a positive) times the envelope there
    recall_step = np.diff(np.concatenate(([0.], recall)))
    return float(np.sum(recall_step * precision))


def make_svm(cost: float, random_state: Optional[int] = 0):
    """The benchmark's ``LinearSVC`` (the reference leaves
    ``random_state`` unset; here it is fixed for repeatable runs)."""
    from sklearn.svm import LinearSVC
    return LinearSVC(
        C=float(cost), class_weight={1: 2, -1: 1}, intercept_scaling=1.0,
        penalty='l2', loss='squared_hinge', tol=1e-4, dual=True,
        max_iter=2000, random_state=random_state)


def _fit(x, y, cost, random_state):
    """Fit one SVM; returns ``(weights, bias, converged)``."""
    clf = make_svm(cost, random_state)
    clf.fit(x, y)
    converged = bool(np.all(np.asarray(clf.n_iter_) < clf.max_iter))
    return clf.coef_[0].copy(), float(clf.intercept_[0]), converged


def _cv_ap(x, y, cost, folds, random_state) -> float:
    from sklearn.model_selection import cross_val_score
    return float(cross_val_score(
        make_svm(cost, random_state), x, y, cv=folds,
        scoring='average_precision').mean())


def select_cost(feats: np.ndarray, labels: np.ndarray,
                costs: Sequence[float] = DEFAULT_COSTS, folds: int = 3,
                random_state: Optional[int] = 0
                ) -> Tuple[int, np.ndarray]:
    """Index of the cost with the best ``folds``-fold cross-validated AP
    (first one on ties) and the mean AP of every cost.

    ``labels`` are SVM labels, 1 or -1; ``feats`` already normalised.
    """
    labels = np.asarray(labels)
    num_pos = int((labels == 1).sum())
    if num_pos < folds or len(labels) - num_pos < folds:
        raise ValueError(f'{folds}-fold cross-validation needs at least '
                         f'{folds} positives and negatives, got {num_pos} '
                         f'and {len(labels) - num_pos}')
    aps = np.array([_cv_ap(feats, labels, c, folds, random_state)
                    for c in costs])
    return int(np.argmax(aps)), aps


def _svm_class(feats, column, costs, folds, train_difficult, random_state):
    """Cost selection and final fit of one class (a joblib task)."""
    keep = column != -1 if train_difficult == 'ignore' else slice(None)
    x = feats[keep]
    y = np.where(column[keep] == 1, 1, -1)
    with _no_convergence_warnings():
        best, cv_aps = select_cost(x, y, costs, folds, random_state)
        w, b, converged = _fit(x, y, costs[best], random_state)
    return best, cv_aps, w, b, converged


@contextlib.contextmanager
def _no_convergence_warnings():
    """Silence sklearn's convergence warnings (each task reports whether
    its SVMs converged instead)."""
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        yield


def _run(tasks, n_jobs: int, progress: bool):
    """Run joblib ``delayed`` tasks in order, with a progress bar.

    ``n_jobs > 1`` uses worker processes. Not threads: liblinear would
    release the GIL, but its random generator is global to the process, so
    threads would make results depend on scheduling. Each worker imports
    this package once (a few seconds), which pays off on VOC-sized
    features, not on small ones.
    """
    tasks = list(tasks)
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(tasks))
    if n_jobs == 1:
        outputs = (fn(*args, **kwargs) for fn, args, kwargs in tasks)
    else:
        from joblib import Parallel
        outputs = Parallel(n_jobs=n_jobs, return_as='generator')(tasks)
    results = []
    for res in outputs:
        results.append(res)
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    return results


def _check_inputs(train_feats, train_targets, test_feats, test_targets):
    train_feats = l2_normalize(train_feats)
    test_feats = l2_normalize(test_feats)
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'train features have {train_feats.shape[1]} '
                         f'dimensions, test features {test_feats.shape[1]}')
    train_targets = check_targets(train_targets, len(train_feats))
    test_targets = check_targets(test_targets, len(test_feats))
    if train_targets.shape[1] != test_targets.shape[1]:
        raise ValueError(f'{train_targets.shape[1]} train classes but '
                         f'{test_targets.shape[1]} test classes')
    return train_feats, train_targets, test_feats, test_targets


def _check_costs(costs) -> Tuple[float, ...]:
    costs = tuple(float(c) for c in costs)
    if not costs or not all(c > 0 for c in costs):
        raise ValueError(f'costs must be positive numbers, got {costs}')
    return costs


def class_aps(test_feats: np.ndarray, test_targets: np.ndarray,
             weights: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """VOC AP of each class's linear SVM (``weights (C, d)``, ``biases
    (C,)``) on normalised test features: ``(C,)`` in [0, 1]."""
    scores = test_feats @ weights.T + biases
    return np.array([voc_ap(scores[:, c], test_targets[:, c])
                     for c in range(test_targets.shape[1])])


def svm_eval(train_feats, train_targets, test_feats, test_targets,
             costs: Sequence[float] = DEFAULT_COSTS, folds: int = 3,
             train_difficult: str = 'negative', n_jobs: int = 1,
             random_state: Optional[int] = 0,
             progress: bool = False) -> Dict:
    """Full VOC07 SVM benchmark: per-class costs by cross-validation on
    the training set, then AP of each class on the test set.

    Args:
        train_feats, test_feats: ``(n, d)`` features (normalised here).
        train_targets, test_targets: ``(n, C)`` 1 / 0 / -1 targets.
        costs: candidate SVM costs. Defaults to (1, 10, 100).
        folds (int): cross-validation folds. Defaults to 3.
        train_difficult (str): ``'negative'`` (the reference tools) or
            ``'ignore'``: what the -1 training targets are.
        n_jobs (int): joblib workers over classes. Defaults to 1.
        random_state (int, optional): of ``LinearSVC``. Defaults to 0.
        progress (bool): progress bar over classes.

    Returns:
        dict: ``mAP`` (%), ``ap`` (per class, %), ``cost`` (chosen per
        class), ``cv_ap`` (``(C, len(costs))`` cross-validation AP, %),
        ``costs`` and ``not_converged`` (classes whose final SVM hit
        ``max_iter``).
    """
    from joblib import delayed
    costs = _check_costs(costs)
    if train_difficult not in ('negative', 'ignore'):
        raise ValueError("train_difficult must be 'negative' or 'ignore', "
                         f'got {train_difficult!r}')
    train_feats, train_targets, test_feats, test_targets = _check_inputs(
        train_feats, train_targets, test_feats, test_targets)
    num_classes = train_targets.shape[1]
    task = delayed(_svm_class)
    results = _run((task(train_feats, train_targets[:, c], costs, folds,
                         train_difficult, random_state)
                    for c in range(num_classes)), n_jobs, progress)
    best = np.array([r[0] for r in results])
    cv_ap = np.stack([r[1] for r in results])
    weights = np.stack([r[2] for r in results])
    biases = np.array([r[3] for r in results])
    ap = class_aps(test_feats, test_targets, weights, biases)
    return dict(
        mAP=100. * float(np.mean(ap)),
        ap=(100. * ap).tolist(),
        cost=[costs[i] for i in best],
        cv_ap=(100. * cv_ap).tolist(),
        costs=list(costs),
        not_converged=[c for c, r in enumerate(results) if not r[4]])


def low_shot_targets(targets, shots: int, rng: np.random.Generator,
                     num_negatives: Optional[int] = None) -> np.ndarray:
    """One low-shot sample of a target matrix.

    For each class: ``shots`` random positives (targets 1) and
    ``num_negatives`` (default ``(C - 1) * shots``) random negatives
    (targets 0) keep their target, every other entry becomes -1 (left out
    of that class's training).
    """
    targets = check_targets(targets)
    num_classes = targets.shape[1]
    if num_negatives is None:
        num_negatives = (num_classes - 1) * shots
    out = np.full_like(targets, -1)
    for c in range(num_classes):
        for value, num in ((1, shots), (0, num_negatives)):
            idx = np.flatnonzero(targets[:, c] == value)
            if len(idx) < num:
                kind = 'positives' if value == 1 else 'negatives'
                raise ValueError(
                    f'class {c} has {len(idx)} {kind}, fewer than the '
                    f'{num} a {shots}-shot sample needs')
            out[rng.choice(idx, num, replace=False), c] = value
    return out


def low_shot_rng(seed: int, sample: int, shots: int) -> np.random.Generator:
    """The generator of sample ``sample`` (0-based) of ``shots`` shots:
    every (sample, shots) pair has its own stream, so adding shots or
    samples leaves the others unchanged."""
    return np.random.default_rng([seed, sample, shots])


def _low_shot_class(feats, columns, test_feats, test_column, costs,
                    random_state):
    """Test AP of one class for every (sample, cost): a joblib task.

    ``columns`` is ``(num_samples, n)`` low-shot targets of this class.
    """
    aps = np.empty((len(columns), len(costs)))
    converged = True
    with _no_convergence_warnings():
        for s, column in enumerate(columns):
            keep = column != -1
            x, y = feats[keep], np.where(column[keep] == 1, 1, -1)
            for j, cost in enumerate(costs):
                w, b, ok = _fit(x, y, cost, random_state)
                converged &= ok
                aps[s, j] = voc_ap(test_feats @ w + b, test_column)
    return aps, converged


def low_shot_eval(train_feats, train_targets, test_feats, test_targets,
                  shots: Sequence[int] = LOW_SHOT_SHOTS,
                  num_samples: int = LOW_SHOT_SAMPLES,
                  costs: Sequence[float] = DEFAULT_COSTS, seed: int = 0,
                  n_jobs: int = 1, random_state: Optional[int] = 0,
                  progress: bool = False) -> Dict:
    """Low-shot VOC07 SVM benchmark (see the module docstring).

    Args:
        train_feats, test_feats: ``(n, d)`` features (normalised here).
        train_targets, test_targets: ``(n, C)`` 1 / 0 / -1 targets.
        shots: positives per class. Defaults to 1, 2, 4, ..., 64, 96.
        num_samples (int): independent samples per number of shots.
            Defaults to 5.
        costs: SVM costs; the mAP of each number of shots is the one of
            the cost with the best mean over samples (a single cost: a
            fixed-cost evaluation). Defaults to (1, 10, 100).
        seed (int): seed of the samples (:func:`low_shot_rng`).
        n_jobs (int): joblib workers over classes.
        random_state (int, optional): of ``LinearSVC``.
        progress (bool): progress bar over classes.

    Returns:
        dict: ``mean_mAP`` (%, the mean over shots of ``per_shot``),
        ``per_shot`` ({shots: mAP %}), ``per_shot_std`` (std over samples
        at the chosen cost), ``cost`` ({shots: chosen cost}), ``map``
        (``[shots][sample][cost]`` mAP %), ``shots``, ``costs``,
        ``num_samples`` and ``not_converged`` (classes with an SVM that hit
        ``max_iter``).
    """
    from joblib import delayed
    costs = _check_costs(costs)
    shots = tuple(int(k) for k in shots)
    if not shots or min(shots) < 1 or num_samples < 1:
        raise ValueError(f'shots must be positive ints and num_samples >= '
                         f'1, got {shots} and {num_samples}')
    train_feats, train_targets, test_feats, test_targets = _check_inputs(
        train_feats, train_targets, test_feats, test_targets)
    num_classes = train_targets.shape[1]
    # (shots, samples, n, C)
    samples = np.stack([
        np.stack([
            low_shot_targets(train_targets, k, low_shot_rng(seed, s, k))
            for s in range(num_samples)
        ]) for k in shots
    ])
    task = delayed(_low_shot_class)
    results = _run((task(train_feats,
                         samples[..., c].reshape(-1, len(train_feats)),
                         test_feats, test_targets[:, c], costs,
                         random_state) for c in range(num_classes)),
                   n_jobs, progress)
    # (C, shots * samples, costs) -> (shots, samples, costs, C)
    aps = np.stack([r[0] for r in results]).reshape(
        num_classes, len(shots), num_samples, len(costs))
    maps = 100. * aps.mean(axis=0)
    mean_over_samples = maps.mean(axis=1)  # (shots, costs)
    best = mean_over_samples.argmax(axis=1)
    per_shot = {k: float(mean_over_samples[i, best[i]])
                for i, k in enumerate(shots)}
    per_shot_std = {k: float(maps[i, :, best[i]].std())
                    for i, k in enumerate(shots)}
    return dict(
        mean_mAP=float(np.mean(list(per_shot.values()))),
        per_shot=per_shot,
        per_shot_std=per_shot_std,
        cost={k: costs[best[i]] for i, k in enumerate(shots)},
        map=maps.tolist(),
        shots=list(shots),
        costs=list(costs),
        num_samples=num_samples,
        not_converged=[c for c, r in enumerate(results) if not r[1]])
