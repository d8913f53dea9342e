"""Exact k-nearest-neighbour search (faiss) and the weighted k-NN classifier.

This is the one kNN of the package: evaluation, positive selection and
memory banks all search through :func:`knn_search`.
"""
from typing import Dict, Sequence, Tuple

import faiss
import numpy as np
import torch


def _as_faiss_array(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().to('cpu', torch.float32).numpy())


#: faiss GPU flat indices reject larger k; those searches run on the CPU
FAISS_GPU_MAX_K = 2048


def _gpu_available() -> bool:
    return hasattr(faiss, 'StandardGpuResources') and faiss.get_num_gpus() > 0


def knn_search(query: torch.Tensor,
               bank: torch.Tensor,
               k: int,
               metric: str = 'ip',
               use_gpu: str = 'auto') -> Tuple[torch.Tensor, torch.Tensor]:
    """Exact top-``k`` search of ``query`` rows among ``bank`` rows.

    Args:
        query (Tensor): ``(q, d)`` queries.
        bank (Tensor): ``(n, d)`` database.
        k (int): neighbours per query, ``1 <= k <= n``.
        metric (str): ``'ip'`` (inner product, cosine for unit vectors) or
            ``'l2'`` (squared Euclidean distance).
        use_gpu (str | bool): ``'auto'`` uses a faiss GPU index when faiss
            was built with GPU support, a GPU is visible and ``k`` is at most
            ``FAISS_GPU_MAX_K``.

    Returns:
        tuple: ``(scores, indices)``, each ``(q, k)`` on ``query.device``;
        scores sorted best first (largest inner product / smallest distance).
    """
    if query.dim() != 2 or bank.dim() != 2 or query.shape[1] != bank.shape[1]:
        raise ValueError('query and bank must be 2-D with the same width, got '
                         f'{tuple(query.shape)} and {tuple(bank.shape)}')
    if not 1 <= k <= bank.shape[0]:
        raise ValueError(f'k must be in [1, {bank.shape[0]}] (bank size), '
                         f'got {k}')
    if metric not in ('ip', 'l2'):
        raise ValueError(f"metric must be 'ip' or 'l2', got {metric!r}")
    d = bank.shape[1]
    index = faiss.IndexFlatIP(d) if metric == 'ip' else faiss.IndexFlatL2(d)
    if use_gpu is True or (use_gpu == 'auto' and k <= FAISS_GPU_MAX_K
                           and _gpu_available()):
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    index.add(_as_faiss_array(bank))
    scores, indices = index.search(_as_faiss_array(query), k)
    return (torch.from_numpy(scores).to(query.device),
            torch.from_numpy(indices).to(query.device))


def knn_graph(feats: torch.Tensor,
              k: int,
              metric: str = 'l2',
              use_gpu: str = 'auto') -> Tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest neighbours of every row among the other rows.

    Searches ``k + 1`` neighbours with :func:`knn_search` and removes the
    row itself. When exact duplicates tie with it and push it out of its
    own ``k + 1`` results, the last (farthest) column is dropped instead, so
    a row is never its own neighbour.

    Args:
        feats (Tensor): ``(n, d)`` features.
        k (int): neighbours per row, ``1 <= k <= n - 1``.
        metric (str): ``'l2'`` (squared Euclidean) or ``'ip'``.
        use_gpu (str | bool): as in :func:`knn_search`.

    Returns:
        tuple: ``(dists, idx)``, each ``(n, k)`` on ``feats.device``, best
        first; ``idx`` is int64.
    """
    n = feats.shape[0] if feats.dim() >= 1 else 0
    if k < 1:
        raise ValueError(f'num_neighbors (k) must be >= 1, got {k}')
    if k + 1 > n:
        raise ValueError(f'num_neighbors (k={k}) needs at least k+1={k + 1} '
                         f'samples, got {n}')
    dists, idx = knn_search(feats, feats, k + 1, metric=metric,
                            use_gpu=use_gpu)
    drop = idx == torch.arange(n, device=idx.device)[:, None]
    drop[:, -1] |= ~drop.any(1)
    keep = ~drop
    return dists[keep].view(n, k), idx[keep].view(n, k)


def weighted_knn_scores(sims: torch.Tensor, indices: torch.Tensor,
                        bank_labels: torch.Tensor, num_classes: int,
                        temperature: float = 0.07) -> torch.Tensor:
    """Class scores of the weighted k-NN classifier (Wu et al., 2018).

    Each neighbour ``j`` of a query votes for its label with weight
    ``exp(s_j / temperature)``, ``s_j`` its cosine similarity.

    Args:
        sims (Tensor): ``(q, k)`` similarities of the neighbours.
        indices (Tensor): ``(q, k)`` their rows in the bank.
        bank_labels (Tensor): ``(n,)`` integer labels of the bank.
        num_classes (int): number of classes.
        temperature (float): > 0.

    Returns:
        Tensor: ``(q, num_classes)`` summed weights.
    """
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    labels = bank_labels.to(indices.device)[indices]
    weights = (sims.float() / temperature).exp()
    scores = weights.new_zeros(sims.shape[0], num_classes)
    return scores.scatter_add_(1, labels, weights)


def knn_accuracy(query: torch.Tensor,
                 query_labels: torch.Tensor,
                 bank: torch.Tensor,
                 bank_labels: torch.Tensor,
                 num_neighbors: Sequence[int] = (20, ),
                 topk: Sequence[int] = (1, ),
                 temperature: float = 0.07,
                 num_classes: int = None) -> Dict[str, float]:
    """Weighted k-NN top-k accuracy (%) of L2-normalised features.

    One search with the largest ``k``; smaller ``k`` reuse its first columns.

    Returns:
        dict: ``{'top{t}_k{k}': accuracy}`` for every pair.
    """
    if num_classes is None:
        num_classes = int(max(bank_labels.max(), query_labels.max())) + 1
    query = torch.nn.functional.normalize(query.float(), dim=1)
    bank = torch.nn.functional.normalize(bank.float(), dim=1)
    sims, idx = knn_search(query, bank, max(num_neighbors), metric='ip')
    query_labels = query_labels.to(sims.device)
    results = {}
    for k in num_neighbors:
        scores = weighted_knn_scores(sims[:, :k], idx[:, :k], bank_labels,
                                     num_classes, temperature)
        top_scores, ranked = scores.topk(max(topk), dim=1)
        # a class no neighbour voted for is never a hit (ties at zero)
        hits = (ranked == query_labels[:, None]) & (top_scores > 0)
        for t in topk:
            acc = hits[:, :t].any(dim=1).float().mean().item() * 100
            results[f'top{t}_k{k}'] = acc
    return results
