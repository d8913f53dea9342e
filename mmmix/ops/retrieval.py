"""Retrieval metrics and the Metrix analysis maths (pure functions).

Deep metric learning evaluation (Recall@K, MAP@R) and the quantities of the
Metrix analysis (Venkataramanan et al., ICLR 2022, thesis §4.3.6 and §4.4.4):
positivity of a mixed embedding under the multi-similarity (MS) loss,
utilization of the training set by the test set, alignment and uniformity
(Wang & Isola, 2020).

Inputs are numpy arrays or torch tensors (any device); outputs are Python
floats, dicts of floats or numpy arrays. Nearest-neighbour search is exact
(faiss flat indices) and runs on a GPU when faiss has one.

Conventions:

* Embeddings are L2-normalised by :func:`recall_at_k`, :func:`map_at_r`,
  :func:`utilization` and the mixing helpers; ranking is by cosine
  similarity. :func:`alignment` and :func:`uniformity` take the embeddings
  as given (pass unit vectors, as Wang & Isola do).
* Without a gallery the query set retrieves from itself and each query's own
  row is removed **by index** (not by rank), so duplicates and ties cannot
  leave a query retrieving itself.
"""
import math
import warnings
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .knn import knn_search
from .metrix import mix

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence]

def _to_numpy(x: ArrayLike) -> np.ndarray:
    if torch.is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _as_matrix(x: ArrayLike, name: str) -> np.ndarray:
    x = _to_numpy(x)
    if x.ndim != 2:
        raise ValueError(f'{name} must be 2-D (n, d), got shape {x.shape}')
    if x.shape[0] == 0:
        raise ValueError(f'{name} is empty')
    return x


def _as_labels(labels: ArrayLike, name: str, n: int) -> np.ndarray:
    labels = _to_numpy(labels).reshape(-1)
    if len(labels) != n:
        raise ValueError(f'{name} has {len(labels)} entries for {n} '
                         'embeddings')
    if labels.dtype.kind not in 'iub':
        raise ValueError(f'{name} must be integers, got dtype {labels.dtype}')
    return labels.astype(np.int64)


def l2_normalize(x: ArrayLike, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32."""
    x = _to_numpy(x).astype(np.float64)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, eps)).astype(np.float32)


def faiss_search(query: ArrayLike,
                 gallery: ArrayLike,
                 k: int,
                 metric: str = 'ip') -> Tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` search of ``query`` rows among ``gallery`` rows.

    Args:
        query: ``(q, d)`` queries.
        gallery: ``(n, d)`` database.
        k (int): neighbours per query, ``1 <= k <= n``.
        metric (str): ``'ip'`` (inner product; cosine for unit vectors,
            ``faiss.IndexFlatIP``) or ``'l2'`` (squared Euclidean distance,
            ``faiss.IndexFlatL2``).

    Returns:
        tuple: ``(scores, indices)``, ``(q, k)`` float32 / int64 numpy
        arrays, best first (largest inner product / smallest distance).
        A faiss GPU index is used when faiss sees a GPU.
    """
    query = np.ascontiguousarray(_as_matrix(query, 'query'), np.float32)
    gallery = np.ascontiguousarray(_as_matrix(gallery, 'gallery'), np.float32)
    if query.shape[1] != gallery.shape[1]:
        raise ValueError('query and gallery must have the same width, got '
                         f'{query.shape[1]} and {gallery.shape[1]}')
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) \
            or not 1 <= k <= len(gallery):
        raise ValueError(f'k must be an int in [1, {len(gallery)}] (gallery '
                         f'size), got {k!r}')
    if metric not in ('ip', 'l2'):
        raise ValueError(f"metric must be 'ip' or 'l2', got {metric!r}")
    scores, indices = knn_search(torch.from_numpy(query),
                                 torch.from_numpy(gallery), int(k), metric)
    return scores.numpy(), indices.numpy().astype(np.int64)


def _drop_self(scores: np.ndarray,
               indices: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index (row ``i`` drops index ``i``).

    Rows whose own index was not returned (ties with more duplicates than
    columns) drop their last column instead, so every row keeps
    ``k - 1`` columns.
    """
    is_self = indices == np.arange(len(indices))[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    shape = (len(indices), indices.shape[1] - 1)
    return scores[keep].reshape(shape), indices[keep].reshape(shape)


def _prepare(query, query_labels, gallery, gallery_labels):
    """Normalised float32 query / gallery, int64 labels, self flag."""
    query = _as_matrix(query, 'query')
    query_labels = _as_labels(query_labels, 'query_labels', len(query))
    if (gallery is None) != (gallery_labels is None):
        raise ValueError('give both gallery and gallery_labels, or neither')
    query = l2_normalize(query)
    if gallery is None:
        return query, query_labels, query, query_labels, True
    gallery = _as_matrix(gallery, 'gallery')
    gallery_labels = _as_labels(gallery_labels, 'gallery_labels',
                                len(gallery))
    if gallery.shape[1] != query.shape[1]:
        raise ValueError('query and gallery must have the same width, got '
                         f'{query.shape[1]} and {gallery.shape[1]}')
    return query, query_labels, l2_normalize(gallery), gallery_labels, False


def retrieve(query: ArrayLike,
             k: int,
             gallery: Optional[ArrayLike] = None
             ) -> Tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine neighbours; self removed by index without gallery.

    Args:
        query: ``(q, d)`` embeddings (L2-normalised here).
        k (int): neighbours per query; at most the gallery size, minus one
            without a gallery.
        gallery: ``(n, d)`` embeddings, or None to retrieve from ``query``
            itself, excluding each query's own row.

    Returns:
        tuple: ``(similarities, indices)``, each ``(q, k)``, best first.
    """
    query = l2_normalize(_as_matrix(query, 'query'))
    if gallery is None:
        _check_k(k, len(query) - 1, 'k', self_excluded=True)
        scores, indices = faiss_search(query, query, k + 1, 'ip')
        return _drop_self(scores, indices)
    gallery = l2_normalize(_as_matrix(gallery, 'gallery'))
    _check_k(k, len(gallery), 'k', self_excluded=False)
    return faiss_search(query, gallery, k, 'ip')


def _check_k(k, limit: int, name: str, self_excluded: bool) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f'{name} must be positive integers, got {k!r}')
    if k > limit:
        what = ('the number of other query embeddings (self excluded)'
                if self_excluded else 'the gallery size')
        raise ValueError(f'{name}={k} exceeds {what}, {limit}')


def recall_at_k(query: ArrayLike,
                query_labels: ArrayLike,
                ks: Union[int, Sequence[int]] = (1, 2, 4, 8),
                gallery: Optional[ArrayLike] = None,
                gallery_labels: Optional[ArrayLike] = None
                ) -> Dict[int, float]:
    """Recall@K of deep metric learning: the hit rate at rank K.

    A query is a hit at K when at least one of its K nearest neighbours
    (cosine similarity of L2-normalised embeddings) has its label. This is
    not IR recall. Every query counts, including one with no same-label item
    in the gallery (always a miss).

    Args:
        query: ``(q, d)`` embeddings.
        query_labels: ``(q,)`` integer labels.
        ks (int | Sequence[int]): the K values.
        gallery: ``(n, d)`` gallery embeddings (In-Shop query -> gallery,
            nothing excluded), or None: the query set retrieves from itself
            and each query's own row is removed by index (CUB, Cars, SOP).
        gallery_labels: ``(n,)`` labels of the gallery.

    Returns:
        dict: ``{k: recall in [0, 1]}`` in the order of ``ks``.
    """
    ks = (ks, ) if isinstance(ks, (int, np.integer)) else tuple(ks)
    if not ks:
        raise ValueError('ks must hold at least one K')
    query, query_labels, gallery, gallery_labels, self_ref = _prepare(
        query, query_labels, gallery, gallery_labels)
    limit = len(gallery) - 1 if self_ref else len(gallery)
    for k in ks:
        _check_k(k, limit, 'ks', self_ref)
    kmax = int(max(ks))
    _, indices = retrieve(query, kmax, None if self_ref else gallery)
    hits = gallery_labels[indices] == query_labels[:, None]
    # a hit at K iff the first same-label neighbour is within the top K
    first_hit = np.where(hits.any(axis=1), hits.argmax(axis=1), kmax)
    return {int(k): float(np.mean(first_hit < k)) for k in ks}


def _num_relevant(query_labels: np.ndarray, gallery_labels: np.ndarray,
                  self_ref: bool) -> np.ndarray:
    """R per query: same-label gallery items (self excluded)."""
    uniq, counts = np.unique(gallery_labels, return_counts=True)
    pos = np.searchsorted(uniq, query_labels)
    pos = np.minimum(pos, len(uniq) - 1)
    found = uniq[pos] == query_labels
    r = np.where(found, counts[pos], 0)
    return r - 1 if self_ref else r


def map_at_r(query: ArrayLike,
             query_labels: ArrayLike,
             gallery: Optional[ArrayLike] = None,
             gallery_labels: Optional[ArrayLike] = None,
             max_r: Optional[int] = None) -> float:
    """MAP@R (Musgrave et al., 2020) of cosine retrieval.

    For a query with ``R`` same-label gallery items (its own row excluded
    when the query set retrieves from itself)::

        AP@R = (1/R) * sum_{i<=R} P(i) * rel(i)

    where ``rel(i)`` says whether the i-th neighbour has the query's label
    and ``P(i)`` is the precision among the first ``i`` neighbours. MAP@R is
    the mean over queries with ``R >= 1`` (the others are left out, as in
    pytorch-metric-learning's ``AccuracyCalculator``).

    Args:
        query, query_labels, gallery, gallery_labels: as
            :func:`recall_at_k`.
        max_r (int, optional): cap ``R`` at ``max_r`` (the average precision
            of the first ``min(R, max_r)`` neighbours, divided by
            ``min(R, max_r)``), to bound the search on large classes. None
            searches ``max R`` neighbours.

    Returns:
        float: MAP@R in [0, 1]; NaN (with a warning) when no query has a
        same-label item in the gallery.
    """
    if max_r is not None and (isinstance(max_r, bool)
                              or not isinstance(max_r, (int, np.integer))
                              or max_r < 1):
        raise ValueError(
            f'max_r must be a positive int or None, got {max_r!r}')
    query, query_labels, gallery, gallery_labels, self_ref = _prepare(
        query, query_labels, gallery, gallery_labels)
    r = _num_relevant(query_labels, gallery_labels, self_ref)
    if max_r is not None:
        r = np.minimum(r, max_r)
    valid = r >= 1
    if not valid.any():
        warnings.warn('MAP@R: no query has a same-label item in the gallery; '
                      'returning NaN')
        return float('nan')
    kmax = int(r.max())
    _, indices = retrieve(query, kmax, None if self_ref else gallery)
    indices, r, query_labels = indices[valid], r[valid], query_labels[valid]
    ranks = np.arange(1, kmax + 1)
    rel = (gallery_labels[indices] == query_labels[:, None]) \
        & (ranks[None] <= r[:, None])
    precision = np.cumsum(rel, axis=1) / ranks[None]
    ap = (precision * rel).sum(axis=1) / r
    return float(ap.mean())


# ---------------------------------------------------------------------------
# Analysis: utilization, alignment, uniformity (thesis §4.4.4)
# ---------------------------------------------------------------------------


def utilization(query_emb: ArrayLike, train_emb: ArrayLike) -> float:
    """Utilization ``u(Q, X)`` of the training set by the queries (eq. 4.25).

    ``(1/|Q|) sum_q min_x ||f(q) - f(x)||^2`` with both sets L2-normalised;
    exact nearest neighbour with ``faiss.IndexFlatL2`` (k = 1). Lower is
    better; adding rows to ``train_emb`` can only lower it.
    """
    query = l2_normalize(_as_matrix(query_emb, 'query_emb'))
    train = l2_normalize(_as_matrix(train_emb, 'train_emb'))
    dist, _ = faiss_search(query, train, 1, metric='l2')
    return float(np.maximum(dist[:, 0].astype(np.float64), 0).mean())


def _as_double(x: ArrayLike, name: str) -> torch.Tensor:
    """float64 tensor; a torch input keeps its device (e.g. a GPU)."""
    x = x.detach() if torch.is_tensor(x) else torch.from_numpy(
        np.asarray(x))
    if x.dim() != 2:
        raise ValueError(f'{name} must be 2-D (n, d), got shape '
                         f'{tuple(x.shape)}')
    return x.double()


def _sq_dists(a: torch.Tensor, b: torch.Tensor,
              exact: bool = True) -> torch.Tensor:
    # exact: the difference (not matrix-multiply) path, identical rows give
    # exactly 0; the matrix-multiply path is much faster on large sets
    mode = 'donot_use_mm_for_euclid_dist' if exact \
        else 'use_mm_for_euclid_dist'
    return torch.cdist(a, b, compute_mode=mode).square()


def alignment(x: ArrayLike,
              y: Optional[ArrayLike] = None,
              alpha: float = 2.0,
              labels: Optional[ArrayLike] = None) -> float:
    """Alignment of positive pairs, ``E ||f(x) - f(y)||_2^alpha``.

    Wang & Isola (2020); lower is better. The positive pairs are either

    * ``(x[i], y[i])`` for two aligned ``(n, d)`` arrays (``y`` given), or
    * every unordered pair ``i < j`` with ``labels[i] == labels[j]``
      (``labels`` given; the mean is over pairs, so large classes weigh
      more).

    Embeddings are used as given: pass L2-normalised ones.
    """
    if not alpha > 0:
        raise ValueError(f'alpha must be > 0, got {alpha}')
    x = _as_double(x, 'x')
    if (y is None) == (labels is None):
        raise ValueError('give exactly one of y (aligned pairs) or labels '
                         '(all same-label pairs)')
    if y is not None:
        y = _as_double(y, 'y')
        if x.shape != y.shape:
            raise ValueError(f'x and y must have the same shape, got '
                             f'{tuple(x.shape)} and {tuple(y.shape)}')
        if len(x) == 0:
            raise ValueError('no positive pairs')
        return float((x - y).norm(dim=1).pow(alpha).mean())
    labels = _as_labels(labels, 'labels', len(x))
    total, count = 0.0, 0
    for label in np.unique(labels):
        rows = torch.from_numpy(np.flatnonzero(labels == label))
        members = x[rows.to(x.device)]
        m = len(members)
        if m < 2:
            continue
        iu = torch.triu_indices(m, m, offset=1, device=x.device)
        d = _sq_dists(members, members)[iu[0], iu[1]].sqrt()
        total += float(d.pow(alpha).sum())
        count += d.numel()
    if count == 0:
        raise ValueError('no two embeddings share a label: no positive pairs')
    return total / count


def intra_class_similarity(x: ArrayLike, labels: ArrayLike) -> float:
    """Mean cosine similarity of same-class pairs, averaged over classes.

    CLIM's Table 10: for each class the mean of ``cos(x_i, x_j)`` over its
    unordered pairs ``i < j``, then the mean over classes with at least two
    members (labels ``< 0`` are ignored). Rows are L2-normalised here. From
    class sums, ``sum_{i != j} x_i.x_j = |sum_i x_i|^2 - n_c``: ``O(n d)``.
    """
    x = torch.nn.functional.normalize(_as_double(x, 'x'), dim=1)
    labels = torch.as_tensor(_as_labels(labels, 'labels', len(x)),
                             device=x.device).long()
    keep = labels >= 0
    x, labels = x[keep], labels[keep]
    if not len(labels):
        raise ValueError('no labelled embeddings')
    num = int(labels.max()) + 1
    sums = x.new_zeros(num, x.shape[1]).index_add_(0, labels, x)
    counts = torch.bincount(labels, minlength=num).double()
    valid = counts >= 2
    if not bool(valid.any()):
        raise ValueError('no class has two embeddings')
    pair_sum = sums.pow(2).sum(1) - counts  # ordered pairs i != j
    per_class = pair_sum[valid] / (counts[valid] * (counts[valid] - 1))
    return float(per_class.mean())


def uniformity(x: ArrayLike, t: float = 2.0, chunk: int = 256) -> float:
    """Uniformity ``log mean_{i<j} exp(-t ||x_i - x_j||^2)``.

    Wang & Isola (2020); lower is better. Computed in float64 with a
    log-sum-exp over row chunks of ``chunk`` rows (memory ``chunk * n``), on
    the device of a torch input (a GPU helps for large sets: the cost is
    ``n^2 d``). Distances use the matrix-multiply form (error ~1e-15).
    Embeddings are used as given: pass L2-normalised ones.
    """
    if not t > 0:
        raise ValueError(f't must be > 0, got {t}')
    x = _as_double(x, 'x')
    n = len(x)
    if n < 2:
        raise ValueError(f'uniformity needs at least 2 embeddings, got {n}')
    parts = []
    for start in range(0, n - 1, chunk):
        stop = min(start + chunk, n - 1)
        # columns j > start; keep j > i
        d2 = _sq_dists(x[start:stop], x[start + 1:], exact=False)
        rows = torch.arange(start, stop, device=x.device)[:, None]
        cols = torch.arange(start + 1, n, device=x.device)[None]
        vals = (-t * d2)[cols > rows]
        parts.append(torch.logsumexp(vals, dim=0))
    lse = torch.logsumexp(torch.stack(parts), dim=0)
    return float(lse) - math.log(n * (n - 1) / 2)


# ---------------------------------------------------------------------------
# Positivity of a mixed embedding under MS (thesis §4.3.6, eqs. 4.14-4.24)
# ---------------------------------------------------------------------------


def ms_positivity_threshold(lam: Union[float, ArrayLike],
                            alpha: float = 18.0,
                            beta: float = 75.0,
                            base: float = 0.77):
    """Largest similarity at which a pos-neg mix is positive (eq. 4.23).

    ``s* = ln(lam / (1 - lam)) / (alpha + beta) + base``. Names follow
    pytorch-metric-learning's ``MultiSimilarityLoss``: ``alpha`` is the
    positive scale (beta of the thesis), ``beta`` the negative scale (gamma
    of the thesis), ``base`` the margin m. ``lam`` = 0 gives -inf (never
    positive), ``lam`` = 1 gives +inf (always positive).

    Returns:
        float for a scalar ``lam``, else a numpy array.
    """
    lam = _to_numpy(lam).astype(np.float64)
    if np.any((lam < 0) | (lam > 1)):
        raise ValueError('lam must be in [0, 1]')
    with np.errstate(divide='ignore'):
        out = (np.log(lam) - np.log1p(-lam)) / (alpha + beta) + base
    return float(out) if out.ndim == 0 else out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1 + e)
    return out


def ms_mixed_grad(s: ArrayLike,
                  lam: Union[float, ArrayLike],
                  alpha: float = 18.0,
                  beta: float = 75.0,
                  base: float = 0.77) -> np.ndarray:
    """Derivative in ``s`` of the MS loss of one pos-neg mix (eq. 4.17).

    The loss of an anchor with a single mixed embedding of label ``lam``
    and similarity ``s`` (eq. 4.16)::

        (1/alpha) log(1 + lam e^{-alpha (s - base)})
            + (1/beta) log(1 + (1 - lam) e^{beta (s - base)})

    has derivative ``sigmoid(log(1-lam) + beta t) - sigmoid(log lam -
    alpha t)`` with ``t = s - base``, evaluated here without overflow for
    any ``s`` and for ``lam`` in [0, 1]. The mix is *positive* (minimising
    the loss pulls it closer) when the derivative is <= 0. ``s`` and ``lam``
    broadcast; the result is a float64 array.
    """
    s = _to_numpy(s).astype(np.float64)
    lam = _to_numpy(lam).astype(np.float64)
    if np.any((lam < 0) | (lam > 1)):
        raise ValueError('lam must be in [0, 1]')
    s, lam = np.broadcast_arrays(s, lam)
    t = s - base
    with np.errstate(divide='ignore'):
        a = np.log1p(-lam) + beta * t
        b = np.log(lam) - alpha * t
    return _sigmoid(np.array(a)) - _sigmoid(np.array(b))


def ms_mixed_grad_sign(s: ArrayLike,
                       lam: Union[float, ArrayLike],
                       alpha: float = 18.0,
                       beta: float = 75.0,
                       base: float = 0.77) -> np.ndarray:
    """Sign (-1, 0 or 1) of :func:`ms_mixed_grad`; <= 0 means positive."""
    return np.sign(ms_mixed_grad(s, lam, alpha, beta, base))


# ---------------------------------------------------------------------------
# Embedding mixup of training pairs, for the analysis
# ---------------------------------------------------------------------------


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


class _ClassBlocks:
    """Indices sorted by label, for uniform draws within / outside a class."""

    def __init__(self, labels: np.ndarray):
        self.order = np.argsort(labels, kind='stable')
        uniq, inverse, counts = np.unique(
            labels, return_inverse=True, return_counts=True)
        self.inverse = inverse.reshape(-1)
        self.counts = counts
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.num = len(labels)
        # position of each sample inside its class block
        self.rank = np.empty(self.num, dtype=np.int64)
        self.rank[self.order] = np.arange(self.num) - np.repeat(
            self.starts, counts)

    def other_class(self, idx: np.ndarray, rng) -> np.ndarray:
        """One uniform sample of a different class for each of ``idx``."""
        c = self.inverse[idx]
        size = self.num - self.counts[c]
        if np.any(size == 0):
            raise ValueError('mixing needs at least two classes')
        r = (rng.random(len(idx)) * size).astype(np.int64)
        r = np.minimum(r, size - 1)
        r = np.where(r >= self.starts[c], r + self.counts[c], r)
        return self.order[r]

    def same_class(self, idx: np.ndarray, rng) -> np.ndarray:
        """One uniform other sample of the same class for each of ``idx``."""
        c = self.inverse[idx]
        size = self.counts[c] - 1
        if np.any(size == 0):
            raise ValueError('a sample has no other sample of its class')
        r = (rng.random(len(idx)) * size).astype(np.int64)
        r = np.minimum(r, size - 1)
        r = np.where(r >= self.rank[idx], r + 1, r)
        return self.order[self.starts[c] + r]


def sample_pos_neg_pairs(labels: ArrayLike,
                         num_epochs: int = 1,
                         seed=None) -> Tuple[np.ndarray, np.ndarray]:
    """Pos-neg mixing pairs: every sample once per epoch with a partner of
    another class drawn uniformly.

    Returns:
        tuple: ``(i, j)`` int64 arrays of length ``num_epochs * n`` with
        ``labels[i] != labels[j]``.
    """
    labels = _to_numpy(labels).reshape(-1)
    labels = _as_labels(labels, 'labels', len(labels))
    if num_epochs < 0:
        raise ValueError(f'num_epochs must be >= 0, got {num_epochs}')
    rng = _rng(seed)
    blocks = _ClassBlocks(labels)
    i = np.tile(np.arange(len(labels)), num_epochs)
    if len(i) == 0:
        return i, i.copy()
    return i, blocks.other_class(i, rng)


def mix_embeddings(emb: ArrayLike, i: ArrayLike, j: ArrayLike,
                   lam: Union[float, ArrayLike]) -> np.ndarray:
    """Embedding mixup, re-normalised: ``normalize(lam z_i + (1-lam) z_j)``
    of the L2-normalised rows of ``emb`` (``lam`` scalar or per pair)."""
    z = torch.from_numpy(l2_normalize(_as_matrix(emb, 'emb'))).double()
    lam = torch.as_tensor(_to_numpy(lam), dtype=torch.float64)
    mixed = mix(z, torch.as_tensor(_to_numpy(i)), torch.as_tensor(
        _to_numpy(j)), lam)
    return l2_normalize(mixed.numpy())


def pos_neg_mixup(emb: ArrayLike,
                  labels: ArrayLike,
                  num_epochs: int = 1,
                  mix_alpha: float = 2.0,
                  seed=None) -> np.ndarray:
    """Mixed training embeddings for the utilization ``u(Q, X^)``.

    Pairs from :func:`sample_pos_neg_pairs` (each sample once per epoch with
    a random other-class partner), one ``lam ~ Beta(mix_alpha, mix_alpha)``
    per pair, mixed with :func:`mix_embeddings`.

    Returns:
        ndarray: ``(num_epochs * n, d)`` float32 unit vectors.
    """
    emb = _as_matrix(emb, 'emb')
    rng = _rng(seed)
    i, j = sample_pos_neg_pairs(labels, num_epochs, rng)
    lam = rng.beta(mix_alpha, mix_alpha, size=len(i))
    if len(i) == 0:
        return np.zeros((0, emb.shape[1]), np.float32)
    return mix_embeddings(emb, i, j, lam)


def anchor_mixed_similarities(emb: ArrayLike,
                              labels: ArrayLike,
                              lams: Sequence[float],
                              num_pairs: int = 10000,
                              seed=None) -> np.ndarray:
    """Similarities ``s(a, v)`` of anchors to pos-neg mixes, per ``lam``.

    Draws ``num_pairs`` triplets (anchor a, positive p, negative n):
    ``p`` uniform among samples whose class has another sample, ``a`` a
    different sample of ``p``'s class, ``n`` uniform among the other classes.
    For each ``lam``, ``v = normalize(lam z_p + (1 - lam) z_n)`` and
    ``s = <z_a, v>`` with L2-normalised ``z``; the same triplets serve every
    ``lam``.

    Returns:
        ndarray: ``(len(lams), num_pairs)`` float64.
    """
    emb = l2_normalize(_as_matrix(emb, 'emb')).astype(np.float64)
    labels = _as_labels(labels, 'labels', len(emb))
    if num_pairs < 1:
        raise ValueError(f'num_pairs must be >= 1, got {num_pairs}')
    rng = _rng(seed)
    blocks = _ClassBlocks(labels)
    eligible = np.flatnonzero(blocks.counts[blocks.inverse] >= 2)
    if len(eligible) == 0:
        raise ValueError('no class has two samples: no anchor-positive pair')
    p = eligible[rng.integers(0, len(eligible), num_pairs)]
    a = blocks.same_class(p, rng)
    n = blocks.other_class(p, rng)
    za = emb[a]
    sims = np.empty((len(lams), num_pairs))
    for row, lam in enumerate(lams):
        sims[row] = (za * mix_embeddings(emb, p, n, lam)).sum(axis=1)
    return sims


def positivity_curve(sims: ArrayLike,
                     lams: Sequence[float],
                     alpha: float = 18.0,
                     beta: float = 75.0,
                     base: float = 0.77) -> Dict[str, list]:
    """Empirical and theoretical positivity per ``lam`` (Figure 4.2).

    Args:
        sims: ``(len(lams), m)`` similarities ``s(a, v)`` of anchors to mixes
            of factor ``lam`` (:func:`anchor_mixed_similarities`).
        lams: the mixing factors.

    Returns:
        dict: ``lambda``, ``threshold`` (s*, eq. 4.23), ``empirical`` (the
        fraction of pairs with :func:`ms_mixed_grad` <= 0) and
        ``theoretical`` (``F_lam(s*)``, the empirical CDF of ``s`` at ``s*``,
        eq. 4.24), each a list over ``lams``. The two agree up to rounding
        at the threshold, which is what the thesis' figure shows.
    """
    sims = _to_numpy(sims).astype(np.float64)
    lams = [float(v) for v in lams]
    if sims.ndim != 2 or len(sims) != len(lams):
        raise ValueError(f'sims must be (len(lams), m), got {sims.shape} '
                         f'for {len(lams)} lams')
    out = dict(**{'lambda': lams}, threshold=[], empirical=[],
               theoretical=[])
    for lam, s in zip(lams, sims):
        thr = ms_positivity_threshold(lam, alpha, beta, base)
        grad = ms_mixed_grad(s, lam, alpha, beta, base)
        out['threshold'].append(thr)
        out['empirical'].append(float(np.mean(grad <= 0)))
        out['theoretical'].append(float(np.mean(s <= thr)))
    return out
