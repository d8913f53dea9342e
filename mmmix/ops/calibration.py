"""Calibration (ECE, OE) and out-of-distribution detection scores."""
import math
from typing import Dict, Tuple

import torch


def calibration_errors(probs: torch.Tensor, labels: torch.Tensor,
                       num_bins: int = 15) -> Tuple[float, float]:
    """Expected calibration error and overconfidence error, in %.

    With the top-1 confidence ``c`` of each sample split into ``num_bins``
    equal-width bins over (0, 1]::

        ECE = sum_b |B_b| / N * |acc_b - conf_b|
        OE  = sum_b |B_b| / N * conf_b * max(conf_b - acc_b, 0)

    Args:
        probs (Tensor): ``(N, K)`` class probabilities (rows sum to 1).
        labels (Tensor): ``(N,)`` integer labels.
        num_bins (int): number of bins, >= 1. Defaults to 15.

    Returns:
        tuple: ``(ece, oe)`` in percent.
    """
    if num_bins < 1:
        raise ValueError(f'num_bins must be >= 1, got {num_bins}')
    if probs.dim() != 2 or labels.shape != probs.shape[:1]:
        raise ValueError(f'probs must be (N, K) and labels (N,), got '
                         f'{tuple(probs.shape)} and {tuple(labels.shape)}')
    conf, pred = probs.float().max(dim=1)
    correct = (pred == labels.to(pred.device)).float()
    # bin b holds confidences in (b / B, (b + 1) / B]
    bins = (conf * num_bins).ceil().long().clamp_(1, num_bins) - 1
    count = torch.zeros(num_bins, device=conf.device).index_add_(
        0, bins, torch.ones_like(conf))
    conf_sum = torch.zeros_like(count).index_add_(0, bins, conf)
    acc_sum = torch.zeros_like(count).index_add_(0, bins, correct)
    n = count.sum()
    safe = count.clamp_min(1)
    conf_b, acc_b = conf_sum / safe, acc_sum / safe
    weight = count / n
    ece = (weight * (acc_b - conf_b).abs()).sum()
    oe = (weight * conf_b * (conf_b - acc_b).clamp_min(0)).sum()
    return float(ece) * 100, float(oe) * 100


def ood_detection_scores(id_scores: torch.Tensor,
                         ood_scores: torch.Tensor,
                         threshold: float = 0.5) -> Dict[str, float]:
    """Detection of out-of-distribution samples from a confidence score.

    In-distribution (ID) samples are the positives; higher scores mean "more
    in-distribution" (e.g. the maximum softmax probability). A sample is
    called ID at threshold ``t`` when its score is ``>= t``.

    All metrics come from one sort of the concatenated scores: for each
    distinct score ``v`` (tied scores form a single threshold step) the
    numbers of ID and OOD samples scored ``>= v`` and ``<= v``. Time is
    O(N log N) and memory O(N) for N = ``len(id_scores) + len(ood_scores)``.

    Args:
        id_scores (Tensor): ``(N_id,)`` scores of the ID samples.
        ood_scores (Tensor): ``(N_ood,)`` scores of the OOD samples.
        threshold (float): threshold of ``det_acc``. Defaults to 0.5.

    Returns:
        dict (in %): ``det_acc`` at ``threshold`` (mean of the true
        positive and true negative rates), ``det_acc_best`` (the same at the
        best threshold, over every score and ``+inf``), ``auroc`` (ties count
        one half), ``aupr_in`` (ID positive) and ``aupr_out`` (OOD positive,
        scores negated). Both AUPRs are average precision as in
        scikit-learn: ``sum_k (R_k - R_{k-1}) P_k`` over the distinct
        scores, without interpolation.
    """
    id_scores = _check_scores(id_scores, 'id_scores')
    ood_scores = _check_scores(ood_scores, 'ood_scores').to(id_scores.device)
    threshold = float(threshold)
    if math.isnan(threshold):
        raise ValueError('threshold must not be NaN')
    n_id, n_ood = len(id_scores), len(ood_scores)

    # fixed threshold: ID if score >= threshold
    tpr = (id_scores >= threshold).sum().double() / n_id
    tnr = (ood_scores < threshold).sum().double() / n_ood
    det = 0.5 * (tpr + tnr)

    # one ascending sort; per distinct score v (a run of ties): counts of
    # ID / OOD samples with score == v, <= v and >= v
    scores = torch.cat([id_scores, ood_scores])
    is_id = torch.zeros(len(scores), dtype=torch.long, device=scores.device)
    is_id[:n_id] = 1
    sorted_scores, order = scores.sort()
    is_id = is_id[order]
    _, counts = torch.unique_consecutive(sorted_scores, return_counts=True)
    ends = counts.cumsum(0) - 1  # index of the last sample of each run
    id_le = is_id.cumsum(0)[ends]
    ood_le = ends + 1 - id_le
    zero = id_le.new_zeros(1)
    id_eq = torch.diff(id_le, prepend=zero)
    ood_eq = torch.diff(ood_le, prepend=zero)
    id_ge = n_id - id_le + id_eq
    ood_ge = n_ood - ood_le + ood_eq

    # best threshold: t = each distinct score, plus t = +inf
    tpr_all = id_ge.double() / n_id
    tnr_all = (n_ood - ood_ge).double() / n_ood
    tpr_inf = (id_scores == math.inf).sum().double() / n_id
    tnr_inf = (ood_scores < math.inf).sum().double() / n_ood
    det_best = torch.maximum((0.5 * (tpr_all + tnr_all)).max(),
                             0.5 * (tpr_inf + tnr_inf))

    # AUROC = P(id > ood) + 0.5 P(id == ood), counted exactly in integers
    id_gt = n_id - id_le
    pairs = (ood_eq * (2 * id_gt + id_eq)).sum()
    auroc = pairs.double() / (2.0 * n_id * n_ood)

    # average precision: recall steps by the positives of a run, precision
    # over everything scored at or beyond that run
    aupr_in = (id_eq * (id_ge.double() / (id_ge + ood_ge))).sum() / n_id
    aupr_out = (ood_eq * (ood_le.double() / (ood_le + id_le))).sum() / n_ood
    return dict(
        det_acc=float(det) * 100,
        det_acc_best=float(det_best) * 100,
        auroc=float(auroc) * 100,
        aupr_in=float(aupr_in) * 100,
        aupr_out=float(aupr_out) * 100)


def _check_scores(scores, name: str) -> torch.Tensor:
    """``scores`` as a non-empty 1-D float64 tensor without NaN."""
    scores = torch.as_tensor(scores)
    if scores.dim() != 1:
        raise ValueError(f'{name} must be 1-D, got shape '
                         f'{tuple(scores.shape)}')
    if not len(scores):
        raise ValueError(f'{name} must be non-empty')
    if scores.is_complex():
        raise ValueError(f'{name} must be real numbers, got {scores.dtype}')
    scores = scores.double()
    if torch.isnan(scores).any():
        raise ValueError(f'{name} contains NaN')
    return scores
