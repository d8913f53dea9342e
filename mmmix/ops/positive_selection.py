"""CLIM positive selection: center-wise local pools and ablation modes.

Spec ``clim.md`` §3.2-3.4 (Eq. 2, Appendix A.2) and Table 6. All modes
produce one flat :class:`PositiveTable`; :func:`draw_positives` draws one
positive per anchor uniformly from its candidates, never the anchor itself.

Fallbacks:

- an anchor with no candidate other than itself (a singleton cluster in
  mode ``kmeans``, ``n == 1`` in mode ``random``) gets itself with
  ``has_pos=False``;
- in mode ``center_wise``, an anchor with no valid neighbour (e.g. one
  sitting at its centroid) gets a pure kNN pool (``fill='topup'`` then
  equals ``fill='replace'``).
"""
import numbers
from typing import Dict, NamedTuple, Optional, Tuple, Union

import torch

from .clustering import check_features, kmeans
from .knn import knn_graph

SELECTION_MODES = ('center_wise', 'knn', 'kmeans', 'random')
FILL_RULES = ('topup', 'replace')


class PositiveTable(NamedTuple):
    """Candidate positives of every anchor, as segments of one flat array.

    Anchor ``i``'s candidates are ``members[start[i]:start[i] + count[i]]``;
    ``self_pos[i]`` is the position of ``i`` inside that segment, or -1 when
    the segment does not contain ``i``.

    Attributes:
        members (Tensor): ``(M,)`` int64 sample indices.
        start (Tensor): ``(n,)`` int64 segment starts.
        count (Tensor): ``(n,)`` int64 segment lengths.
        self_pos (Tensor): ``(n,)`` int64 rank of the anchor in its segment.
    """
    members: torch.Tensor
    start: torch.Tensor
    count: torch.Tensor
    self_pos: torch.Tensor


def _num_candidates(table: PositiveTable) -> torch.Tensor:
    return table.count - (table.self_pos >= 0).long()


def pool_table(pool: torch.Tensor) -> PositiveTable:
    """A :class:`PositiveTable` whose segment ``i`` is row ``i`` of an
    ``(n, P)`` pool that never contains its anchor."""
    n, p = pool.shape
    ar = torch.arange(n, device=pool.device)
    return PositiveTable(pool.reshape(-1).long(), ar * p,
                         torch.full_like(ar, p), torch.full_like(ar, -1))


def cluster_table(assign: torch.Tensor) -> PositiveTable:
    """A :class:`PositiveTable` whose segments are whole clusters.

    ``members`` holds the sample indices stably sorted by cluster; every
    anchor's segment is its cluster, ``self_pos`` its rank there.
    """
    assign = assign.long()
    n = assign.numel()
    order = torch.sort(assign, stable=True).indices
    sizes = torch.bincount(assign)
    offsets = sizes.cumsum(0) - sizes
    start = offsets[assign]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=assign.device)
    return PositiveTable(order, start, sizes[assign], rank - start)


def draw_positives(table: PositiveTable,
                   idx: Union[torch.Tensor, int],
                   generator: Optional[torch.Generator] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Draw one positive per anchor, uniformly over its candidates.

    The anchor itself is excluded: ``u`` is drawn in
    ``[0, count - (self_pos >= 0))`` and shifted past ``self_pos``.

    Args:
        table (PositiveTable): candidate table.
        idx (Tensor | int): anchor indices, any shape (a 0-d index or an
            ``int`` for a single anchor).
        generator (torch.Generator, optional): on the table's device.

    Returns:
        tuple: ``(pos, has_pos)`` with the shape of ``idx``: int64 positives
        and a bool mask; anchors without a candidate other than themselves
        get ``pos = idx`` and ``has_pos = False``.
    """
    dev = table.members.device
    idx = torch.as_tensor(idx, dtype=torch.long, device=dev)
    flat = idx.reshape(-1)
    start, self_pos = table.start[flat], table.self_pos[flat]
    n_cand = table.count[flat] - (self_pos >= 0).long()
    has_pos = n_cand > 0
    r = torch.rand(flat.shape, dtype=torch.float64, device=dev,
                   generator=generator)
    hi = n_cand.clamp(min=1)
    u = torch.minimum((r * hi).long(), hi - 1)
    u = u + ((self_pos >= 0) & (u >= self_pos)).long()
    pos = flat.clone()
    pos[has_pos] = table.members[(start + u)[has_pos]]
    return pos.view(idx.shape), has_pos.view(idx.shape)


def center_wise_pool(assign: torch.Tensor,
                     dist_to_centroid: torch.Tensor,
                     knn_idx: torch.Tensor,
                     pool_size: int = 10,
                     fill: str = 'topup',
                     generator: Optional[torch.Generator] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Center-wise positive pools (Eq. 2 and Appendix A.2 of CLIM).

    Neighbour ``j`` of anchor ``i`` is valid when it shares the anchor's
    cluster and ``dist_to_centroid[j] <= dist_to_centroid[i]`` (ties
    included). More than ``P = pool_size`` valid neighbours: a uniformly
    random ``P``-subset of them (kept in kNN order). At most ``P``:
    ``fill='topup'`` takes the valid ones then the nearest invalid ones, in
    kNN order; ``fill='replace'`` takes the ``P`` nearest neighbours.

    Args:
        assign (Tensor): ``(n,)`` cluster of every sample.
        dist_to_centroid (Tensor): ``(n,)`` (squared or not) distance of
            every sample to its own centroid.
        knn_idx (Tensor): ``(n, k)`` neighbours, nearest first, self
            excluded (see :func:`mmmix.ops.knn.knn_graph`).
        pool_size (int): ``P`` in ``[1, k]``. Defaults to 10.
        fill (str): ``'topup'`` (default) or ``'replace'``.
        generator (torch.Generator, optional): on ``knn_idx.device``.

    Returns:
        tuple: ``(pool, n_valid)``: ``(n, P)`` int64 pool and ``(n,)`` int64
        number of valid neighbours ``|Omega_p|``.
    """
    if fill not in FILL_RULES:
        raise ValueError(f'fill must be one of {FILL_RULES}, got {fill!r}')
    n, k = knn_idx.shape
    if not 1 <= pool_size <= k:
        raise ValueError(f'pool_size must be in [1, k={k}] (the number of '
                         f'neighbours), got {pool_size}')
    knn_idx = knn_idx.long()
    dev = knn_idx.device
    assign, dc = assign.to(dev), dist_to_centroid.to(dev)
    valid = (assign[knn_idx] == assign[:, None]) & (dc[knn_idx]
                                                    <= dc[:, None])
    n_valid = valid.sum(1)
    cols = torch.arange(k, device=dev).expand(n, k)
    if fill == 'topup':  # valid first, then invalid, each in kNN order
        order = (cols + k * (~valid).long()).argsort(1)[:, :pool_size]
        pool = knn_idx.gather(1, order)
    else:
        pool = knn_idx[:, :pool_size].clone()
    rows = (n_valid > pool_size).nonzero().squeeze(1)
    if rows.numel():
        keys = torch.rand((rows.numel(), k), device=dev, generator=generator)
        keys = keys.masked_fill(~valid[rows], -1.0)
        pick = keys.topk(pool_size, dim=1).indices.sort(1).values
        pool[rows] = knn_idx[rows].gather(1, pick)
    return pool, n_valid


def _check_range(name: str, value: int, lo: int, hi: int, what: str) -> None:
    if not isinstance(value, numbers.Integral) or not lo <= value <= hi:
        raise ValueError(f'{name} must be an int in [{lo}, {hi}] ({what}), '
                         f'got {value!r}')


def select_positives(feats: torch.Tensor,
                     mode: str = 'center_wise',
                     num_clusters: Optional[int] = None,
                     num_neighbors: int = 40,
                     pool_size: int = 10,
                     fill: str = 'topup',
                     seed: int = 0,
                     kmeans_cfg: Optional[dict] = None,
                     use_gpu: Union[str, bool] = 'auto'
                     ) -> Tuple[PositiveTable, dict]:
    """Build CLIM's positive table from the selection features.

    Modes (Table 6 of CLIM):

    - ``center_wise``: k-means (``num_clusters``), ``num_neighbors``-NN
      (L2, self excluded) and :func:`center_wise_pool` (``pool_size``,
      ``fill``);
    - ``knn``: the ``pool_size`` nearest neighbours (the paper's ablation:
      ``pool_size=10``);
    - ``kmeans``: all members of the anchor's cluster except itself;
    - ``random``: any other sample.

    Args:
        feats (Tensor): ``(n, d)`` finite features (e.g. L2-normalised
            momentum-encoder embeddings).
        mode (str): one of ``SELECTION_MODES``. Defaults to
            ``'center_wise'``.
        num_clusters (int, optional): ``m`` in ``[1, n]``; None gives
            ``max(1, round(n / 128))`` (ImageNet's ``n / m``).
        num_neighbors (int): ``k`` in ``[1, n - 1]`` (``center_wise``).
            Defaults to 40.
        pool_size (int): pool length, ``<= num_neighbors`` for
            ``center_wise`` and ``<= n - 1`` for ``knn``. Defaults to 10.
        fill (str): ``'topup'`` or ``'replace'`` (``center_wise``).
        seed (int): seed of k-means and of the random pool subsets.
        kmeans_cfg (dict, optional): extra :func:`kmeans` arguments
            (``niter``, ``nredo``, ``spherical``, ...; ``seed`` overrides).
        use_gpu (str | bool): faiss GPU use, as in :func:`knn_search`.

    Returns:
        tuple: ``(table, info)``; ``info`` holds ``mode``, ``assign``,
        ``centroids``, ``sq_dist`` and ``cluster_sizes`` when clustered,
        ``knn_idx`` / ``knn_sq_dist`` when searched, and ``n_valid`` and
        ``pool_size`` for the pool modes.
    """
    if mode not in SELECTION_MODES:
        raise ValueError(f'mode must be one of {SELECTION_MODES}, got '
                         f'{mode!r}')
    if fill not in FILL_RULES:
        raise ValueError(f'fill must be one of {FILL_RULES}, got {fill!r}')
    check_features(feats)
    n, dev = feats.shape[0], feats.device
    if n < 1:
        raise ValueError('feats must hold at least one sample')
    info = dict(mode=mode)
    if mode == 'random':
        ar = torch.arange(n, device=dev)
        return PositiveTable(ar, torch.zeros_like(ar), torch.full_like(ar, n),
                             ar.clone()), info
    if mode == 'knn':
        _check_range('pool_size', pool_size, 1, n - 1,
                     'neighbours, at most n - 1')
        d2, idx = knn_graph(feats, pool_size, metric='l2', use_gpu=use_gpu)
        info.update(knn_idx=idx, knn_sq_dist=d2, pool_size=pool_size)
        return pool_table(idx), info
    if num_clusters is None:
        num_clusters = max(1, round(n / 128))
    _check_range('num_clusters', num_clusters, 1, n, 'at most n samples')
    if mode == 'center_wise':
        _check_range('num_neighbors', num_neighbors, 1, n - 1,
                     'at most n - 1')
        _check_range('pool_size', pool_size, 1, num_neighbors,
                     'at most num_neighbors')
    cfg = dict(kmeans_cfg or {})
    cfg.setdefault('seed', seed)
    cfg.setdefault('use_gpu', use_gpu)
    centroids, assign, sq_dist = kmeans(feats, num_clusters, **cfg)
    info.update(assign=assign, centroids=centroids, sq_dist=sq_dist,
                cluster_sizes=torch.bincount(assign, minlength=num_clusters))
    if mode == 'kmeans':
        return cluster_table(assign), info
    d2, idx = knn_graph(feats, num_neighbors, metric='l2', use_gpu=use_gpu)
    gen = torch.Generator(device=dev).manual_seed(seed)
    pool, n_valid = center_wise_pool(assign, sq_dist, idx, pool_size, fill,
                                     gen)
    info.update(knn_idx=idx, knn_sq_dist=d2, n_valid=n_valid,
                pool_size=pool_size)
    return pool_table(pool), info


def _label_precision(table: PositiveTable, labels: torch.Tensor,
                     n_cand: torch.Tensor) -> float:
    """Exact ``P(label[pos] == label[anchor])`` of :func:`draw_positives`.

    Needs segments that are pairwise identical or disjoint (true for every
    table built here): each member position then belongs to one segment
    and the per-(segment, label) counts give every anchor's matches.
    """
    dev = table.members.device
    labels = torch.as_tensor(labels, device=dev).long().reshape(-1)
    if labels.numel() != n_cand.numel():
        raise ValueError(f'labels must have one entry per anchor '
                         f'({n_cand.numel()}), got {labels.numel()}')
    anchor_ok = (labels >= 0) & (n_cand > 0)
    if not bool(anchor_ok.any()):
        return float('nan')
    seg, seg_id = torch.unique(torch.stack([table.start, table.count], 1),
                               dim=0, return_inverse=True)
    s_start, s_count = seg[:, 0], seg[:, 1]
    nz_start, nz_count = s_start[s_count > 0], s_count[s_count > 0]
    if bool((nz_start[1:] < nz_start[:-1] + nz_count[:-1]).any()):
        raise ValueError('label_precision needs segments that are identical '
                         'or disjoint')
    num_lab = int(labels.max().clamp(min=0)) + 2  # last = unlabelled
    seg_of_pos = torch.repeat_interleave(
        torch.arange(len(seg), device=dev), s_count)
    first = s_count.cumsum(0) - s_count
    pos = (torch.arange(seg_of_pos.numel(), device=dev) - first[seg_of_pos] +
           s_start[seg_of_pos])
    lab = labels[table.members[pos]]
    lab = torch.where(lab >= 0, lab, num_lab - 1)
    keys, counts = torch.unique(seg_of_pos * num_lab + lab,
                                return_counts=True)
    query = seg_id * num_lab + labels.clamp(min=0)
    at = torch.searchsorted(keys, query).clamp(max=keys.numel() - 1)
    matches = torch.where(keys[at] == query, counts[at], 0)
    matches = matches - (table.self_pos >= 0).long()  # the anchor itself
    prec = matches.double() / n_cand.clamp(min=1)
    return float(prec[anchor_ok].mean())


def selection_stats(table: PositiveTable,
                    info: dict,
                    labels: Optional[torch.Tensor] = None
                    ) -> Dict[str, float]:
    """Diagnostics of a positive table (spec §3.9 item 5, unit U12).

    Args:
        table (PositiveTable): from :func:`select_positives`.
        info (dict): its ``info`` (missing keys skip their statistics).
        labels (Tensor, optional): ``(n,)`` class labels; ``< 0`` means
            unknown (such anchors are skipped, such candidates never match).

    Returns:
        dict: ``mean_candidates`` and ``no_pos_fraction`` (anchors that fall
        back to themselves); with ``n_valid``: ``mean_valid`` and
        ``fill_fraction`` (anchors with ``n_valid < pool_size``); with
        ``cluster_sizes``: ``num_clusters`` (non-empty ones),
        ``cluster_size_min/mean/max`` and ``singleton_fraction`` (of the
        non-empty clusters); with
        ``knn_sq_dist``: ``mean_neighbor_dist`` (L2); with ``labels``:
        ``label_precision``, the exact probability that a drawn positive
        has the anchor's label, averaged over labelled anchors that have a
        positive.
    """
    n_cand = _num_candidates(table)
    stats = dict(mean_candidates=float(n_cand.double().mean()),
                 no_pos_fraction=float((n_cand <= 0).double().mean()))
    if 'n_valid' in info:
        n_valid = info['n_valid']
        pool_size = info.get('pool_size', int(table.count.max()))
        stats['mean_valid'] = float(n_valid.double().mean())
        stats['fill_fraction'] = float((n_valid < pool_size).double().mean())
    if 'cluster_sizes' in info:
        sizes = info['cluster_sizes']
        sizes = sizes[sizes > 0].double()
        stats.update(
            num_clusters=float(sizes.numel()),
            cluster_size_min=float(sizes.min()),
            cluster_size_mean=float(sizes.mean()),
            cluster_size_max=float(sizes.max()),
            singleton_fraction=float((sizes == 1).double().mean()))
    if 'knn_sq_dist' in info:
        d = info['knn_sq_dist'].double().clamp(min=0).sqrt()
        stats['mean_neighbor_dist'] = float(d.mean())
    if labels is not None:
        stats['label_precision'] = _label_precision(table, labels, n_cand)
    return stats
