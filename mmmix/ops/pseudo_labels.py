"""Pseudo-labels over a memory bank: momentum update, nearest-centroid
assignment, centroid recomputation and small / empty cluster repair.

The maths of InterCLR's label maintenance (Xie et al., 2021, §4.1; spec
``interclr.md`` §3.1-3.2, U2, U4), written as pure functions on tensors so
that any memory-bank method can use them; the stateful, distributed wrapper
is :class:`mmmix.models.PseudoLabelMemory`.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

#: how a bank row is compared with the centroids (spec ambiguity A1):
#: ``'dot'`` inner product with the unnormalised centroids (the released
#: code), ``'l2'`` Euclidean distance (the paper's ``argmin ||v - Cy||``),
#: ``'cosine'`` inner product with normalised centroids.
ASSIGN_METRICS = ('dot', 'l2', 'cosine')


def last_occurrence(idx: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Unique values of ``idx`` and the position of each one's last copy.

    Returns:
        tuple: ``(unique (u,), position (u,))``, both int64.
    """
    uniq, inv = torch.unique(idx, return_inverse=True)
    pos = torch.arange(idx.numel(), device=idx.device)
    last = torch.full((uniq.numel(), ), -1, dtype=torch.long,
                      device=idx.device)
    return uniq, last.scatter_reduce_(0, inv, pos, reduce='amax')


@torch.no_grad()
def momentum_update(bank: torch.Tensor, idx: torch.Tensor,
                    feats: torch.Tensor, momentum: float) -> torch.Tensor:
    """Eq. 2 of InterCLR in place: ``v <- normalize((1 - w) v + w f)``.

    ``f`` is L2-normalised first; ``w`` (``momentum``) weighs the **new**
    feature, so ``w = 1`` replaces the row. An index given several times in
    one batch takes its last feature (one deterministic write per row).

    Args:
        bank (Tensor): ``(n, d)`` unit rows, updated in place.
        idx (Tensor): ``(b,)`` int64 rows to update.
        feats (Tensor): ``(b, d)`` new features (any norm).
        momentum (float): ``w`` in ``(0, 1]``.

    Returns:
        Tensor: the unique updated rows.
    """
    if not 0. < momentum <= 1.:
        raise ValueError(f'momentum must be in (0, 1], got {momentum}')
    if idx.dim() != 1 or feats.dim() != 2 or feats.shape[0] != idx.numel() \
            or feats.shape[1] != bank.shape[1]:
        raise ValueError(f'idx must be (b,) and feats (b, {bank.shape[1]}), '
                         f'got {tuple(idx.shape)} and {tuple(feats.shape)}')
    idx = idx.to(bank.device).long()
    uniq, last = last_occurrence(idx)
    new = F.normalize(feats.detach().to(bank.device, torch.float32)[last],
                      dim=1)
    if momentum < 1.:
        old = bank[uniq].float()
        new = F.normalize((1. - momentum) * old + momentum * new, dim=1)
    bank[uniq] = new.to(bank.dtype)
    return uniq


def centroid_scores(feats: torch.Tensor, centroids: torch.Tensor,
                    metric: str = 'dot') -> torch.Tensor:
    """``(n, k)`` scores, larger = closer (:data:`ASSIGN_METRICS`)."""
    if metric not in ASSIGN_METRICS:
        raise ValueError(f'assign_metric must be one of {ASSIGN_METRICS}, '
                         f'got {metric!r}')
    feats, centroids = feats.float(), centroids.float()
    if metric == 'cosine':
        centroids = F.normalize(centroids, dim=1)
    scores = feats @ centroids.t()
    if metric == 'l2':  # -|f - c|^2 up to the per-row constant |f|^2
        scores = 2 * scores - centroids.pow(2).sum(1)[None]
    return scores


def assign_labels(feats: torch.Tensor, centroids: torch.Tensor,
                  metric: str = 'dot',
                  allowed: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Nearest centroid of every row, optionally among ``allowed`` ones.

    Args:
        feats (Tensor): ``(n, d)``.
        centroids (Tensor): ``(k, d)``.
        metric (str): one of :data:`ASSIGN_METRICS`.
        allowed (Tensor, optional): ``(k,)`` bool mask of the centroids a row
            may join.

    Returns:
        Tensor: ``(n,)`` int64 labels.
    """
    scores = centroid_scores(feats, centroids, metric)
    if allowed is not None:
        if not bool(allowed.any()):
            raise ValueError('no centroid is allowed')
        scores = scores.masked_fill(~allowed.to(scores.device)[None],
                                    float('-inf'))
    return scores.argmax(dim=1)


def cluster_means(feats: torch.Tensor, labels: torch.Tensor,
                  num_clusters: int,
                  previous: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean of every cluster's rows (not normalised), one ``index_add_``.

    Empty clusters keep their ``previous`` centroid (zeros without one).

    Returns:
        Tensor: ``(k, d)`` float32.
    """
    feats = feats.float()
    sums = feats.new_zeros(num_clusters, feats.shape[1])
    sums.index_add_(0, labels, feats)
    counts = torch.bincount(labels, minlength=num_clusters)
    means = sums / counts.clamp(min=1)[:, None].float()
    if previous is not None:
        empty = counts == 0
        means[empty] = previous.to(means)[empty]
    return means


def cluster_sizes(labels: torch.Tensor, num_clusters: int) -> torch.Tensor:
    """``(k,)`` int64 member counts."""
    return torch.bincount(labels, minlength=num_clusters)


def cluster_stats(labels: torch.Tensor, num_clusters: int) -> dict:
    """Histogram statistics logged by InterCLR: ``empty_num``,
    ``min_cluster``, ``max_cluster`` (member counts) and ``mean_cluster``."""
    sizes = cluster_sizes(labels, num_clusters)
    return dict(empty_num=int((sizes == 0).sum()),
                min_cluster=int(sizes.min()), max_cluster=int(sizes.max()),
                mean_cluster=float(sizes.float().mean()))


def check_cluster_setup(num_samples: int, num_clusters: int,
                        min_cluster: int = 0) -> None:
    """Raise unless ``num_samples`` rows can fill ``num_clusters`` clusters
    of at least ``min_cluster`` members (``num_samples >= k * min_cluster``
    and ``num_samples >= 2 k``, so that the largest cluster can always be
    split)."""
    if num_clusters < 1:
        raise ValueError(f'num_clusters must be >= 1, got {num_clusters}')
    if min_cluster < 0:
        raise ValueError(f'min_cluster must be >= 0, got {min_cluster}')
    if num_samples < 2 * num_clusters:
        raise ValueError(
            f'num_clusters={num_clusters} needs at least {2 * num_clusters} '
            f'samples (2 per cluster), got {num_samples}')
    if num_samples < num_clusters * min_cluster:
        raise ValueError(
            f'min_cluster={min_cluster} with num_clusters={num_clusters} '
            f'needs at least {num_clusters * min_cluster} samples, got '
            f'{num_samples}: lower min_cluster (0 disables the repair) or '
            'num_clusters')


def _two_way_split(feats: torch.Tensor, seed: int) -> torch.Tensor:
    """Bool mask of the second half of a 2-means split (faiss, seeded);
    a random half when 2-means leaves one side empty."""
    from .clustering import kmeans
    n = feats.shape[0]
    side = None
    if n >= 2 and bool((feats != feats[:1]).any()):
        _, assign, _ = kmeans(feats, 2, niter=20, seed=seed, use_gpu=False)
        side = assign.to(feats.device) == 1
        if not 0 < int(side.sum()) < n:
            side = None
    if side is None:
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(n, generator=g).to(feats.device)
        side = torch.zeros(n, dtype=torch.bool, device=feats.device)
        side[perm[n // 2:]] = True
    return side


@torch.no_grad()
def repair_clusters(feats: torch.Tensor, labels: torch.Tensor,
                    centroids: torch.Tensor, min_cluster: int,
                    metric: str = 'dot', seed: int = 0
                    ) -> Tuple[torch.Tensor, torch.Tensor, dict]:
    """Empty the clusters smaller than ``min_cluster``, then refill every
    empty cluster by splitting the current largest one (ODC's hygiene, which
    InterCLR's released code runs every iteration; spec §3.2).

    1. Members of clusters with fewer than ``min_cluster`` rows (strict
       ``<``; empty ones included) move to their nearest centroid among the
       other clusters.
    2. Each empty cluster ``e`` in turn takes one half of a 2-means split
       (faiss, ``seed``) of the largest cluster ``M``; a random half when
       2-means cannot split it. The centroids of ``M`` and ``e`` become their
       new means.

    Afterwards no cluster is empty and the labels stay in ``[0, k)``; a half
    may hold fewer than ``min_cluster`` rows (as in the reference).

    Args:
        feats (Tensor): ``(n, d)`` bank rows.
        labels (Tensor): ``(n,)`` int64 labels in ``[0, k)``.
        centroids (Tensor): ``(k, d)``.
        min_cluster (int): >= 0; 0 only refills empty clusters.
        metric (str): assignment metric of step 1.
        seed (int): seed of the splits.

    Returns:
        tuple: ``(labels, centroids, info)``: new tensors (the inputs are not
        modified) and ``{'num_small', 'num_moved', 'num_split'}``.
    """
    k = centroids.shape[0]
    check_cluster_setup(labels.numel(), k, 0)
    labels, centroids = labels.clone(), centroids.clone()
    sizes = cluster_sizes(labels, k)
    small = sizes < max(int(min_cluster), 1)
    info = dict(num_small=int(small.sum()), num_moved=0, num_split=0)
    if not bool(small.any()):
        return labels, centroids, info
    if bool(small.all()):
        raise ValueError(
            f'every cluster has fewer than min_cluster={min_cluster} members '
            f'({labels.numel()} samples, {k} clusters)')
    move = small[labels]
    if bool(move.any()):
        labels[move] = assign_labels(feats[move], centroids, metric,
                                     allowed=~small)
        info['num_moved'] = int(move.sum())
    sizes = cluster_sizes(labels, k)
    empty = torch.nonzero(sizes == 0).flatten().tolist()
    for step, e in enumerate(empty):
        big = int(sizes.argmax())
        members = torch.nonzero(labels == big).flatten()
        side = _two_way_split(feats[members].float(), seed + step)
        moved = members[side]
        labels[moved] = e
        sizes[e] = moved.numel()
        sizes[big] -= moved.numel()
        centroids[e] = feats[moved].float().mean(0).to(centroids)
        centroids[big] = feats[members[~side]].float().mean(0).to(centroids)
    info['num_split'] = len(empty)
    return labels, centroids, info
