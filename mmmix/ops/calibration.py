"""Calibration (ECE, OE) and out-of-distribution detection scores."""
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
    in-distribution" (e.g. the maximum softmax probability).

    Returns:
        dict (in %): ``det_acc`` at ``threshold`` (mean of the true
        positive and true negative rates), ``det_acc_best`` (the same at the
        best threshold), ``auroc``, ``aupr_in`` (ID positive) and
        ``aupr_out`` (OOD positive, scores negated).
    """
    id_scores = id_scores.double().flatten()
    ood_scores = ood_scores.double().flatten()
    if not len(id_scores) or not len(ood_scores):
        raise ValueError('id_scores and ood_scores must be non-empty')

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
        auroc=_roc_auc(id_scores, ood_scores) * 100,
        aupr_in=_average_precision(id_scores, ood_scores) * 100,
        aupr_out=_average_precision(-ood_scores, -id_scores) * 100)


def _roc_auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """P(pos > neg) + 0.5 P(pos == neg), by ranks (Mann-Whitney U)."""
    scores = torch.cat([pos, neg])
    order = scores.argsort()
    ranks = torch.empty_like(scores)
    sorted_scores = scores[order]
    # average ranks of ties
    uniq, inverse, counts = torch.unique_consecutive(
        sorted_scores, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    avg = ends - (counts.double() - 1) / 2
    ranks[order] = avg[inverse]
    n_pos, n_neg = len(pos), len(neg)
    u = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def _average_precision(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """Average precision with ``pos`` as positives (step-wise, no ties
    interpolation: thresholds at every distinct score, as scikit-learn)."""
    scores = torch.cat([pos, neg])
    is_pos = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
    order = scores.argsort(descending=True)
    scores, is_pos = scores[order], is_pos[order]
    tp = is_pos.cumsum(0)
    fp = (1 - is_pos).cumsum(0)
    # keep the last index of each run of equal scores
    last = torch.ones_like(scores, dtype=torch.bool)
    last[:-1] = scores[1:] != scores[:-1]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / len(pos)
    prev = torch.cat([recall.new_zeros(1), recall[:-1]])
    return float(((recall - prev) * precision).sum())
