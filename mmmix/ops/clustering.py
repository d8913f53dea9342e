"""k-means on faiss: the one clustering routine of the package.

Used by CLIM's positive selection (spec ``clim.md`` §3.2); the final
assignment is taken with the package's one exact search,
:func:`mmmix.ops.knn.knn_search`.
"""
from typing import Optional, Tuple, Union

import faiss
import torch

from .knn import _as_faiss_array, _gpu_available, knn_search


def check_features(feats: torch.Tensor, name: str = 'feats') -> None:
    """Raise ``ValueError`` unless ``feats`` is a finite 2-D ``(n, d)``."""
    if not isinstance(feats, torch.Tensor) or feats.dim() != 2:
        shape = tuple(feats.shape) if hasattr(feats, 'shape') else None
        raise ValueError(f'{name} must be a 2-D (n, d) tensor, got shape '
                         f'{shape}')
    if feats.is_floating_point() and not bool(torch.isfinite(feats).all()):
        raise ValueError(f'{name} contains non-finite values (NaN or Inf)')


def kmeans(feats: torch.Tensor,
           num_clusters: int,
           niter: int = 20,
           nredo: int = 1,
           seed: int = 0,
           spherical: bool = False,
           max_points_per_centroid: Optional[int] = None,
           use_gpu: Union[str, bool] = 'auto'
           ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lloyd k-means (``faiss.Kmeans``) with an exact final assignment.

    Args:
        feats (Tensor): ``(n, d)`` finite features, any device and dtype
            (clustered in float32 on the CPU or a faiss GPU).
        num_clusters (int): ``m``, in ``[1, n]``.
        niter (int): Lloyd iterations. Defaults to 20.
        nredo (int): restarts; the lowest objective is kept. Defaults to 1.
        seed (int): faiss seed (a C ``int``). Defaults to 0.
        spherical (bool): re-normalise the centroids after every iteration.
            Defaults to False (standard k-means, as CLIM).
        max_points_per_centroid (int, optional): faiss subsamples the data
            to ``m * max_points_per_centroid`` points. Defaults to
            ``ceil(n / m)``, i.e. all ``n`` points are used.
        use_gpu (str | bool): ``'auto'`` trains and searches on a faiss GPU
            when faiss has GPU support and a GPU is visible.

    Returns:
        tuple: ``(centroids, assign, sq_dist)`` on ``feats.device``:
        ``(m, d)`` float32 centroids, ``(n,)`` int64 nearest-centroid index
        and ``(n,)`` float32 squared L2 distance of every point to its
        assigned centroid.
    """
    check_features(feats)
    n, d = feats.shape
    if not 1 <= num_clusters <= n:
        raise ValueError(f'num_clusters must be in [1, {n}] (the number of '
                         f'samples), got {num_clusters}')
    if max_points_per_centroid is None:
        max_points_per_centroid = -(-n // num_clusters)
    gpu = use_gpu is True or (use_gpu == 'auto' and _gpu_available())
    km = faiss.Kmeans(
        d,
        int(num_clusters),
        niter=int(niter),
        nredo=int(nredo),
        seed=int(seed),
        spherical=bool(spherical),
        max_points_per_centroid=int(max_points_per_centroid),
        gpu=gpu)
    x = _as_faiss_array(feats)
    km.train(x)
    x = torch.from_numpy(x)
    centroids = torch.from_numpy(km.centroids.copy())
    _, assign = knn_search(x, centroids, 1, metric='l2', use_gpu=use_gpu)
    assign = assign[:, 0]
    # exact distances (the search's |x|^2 + |c|^2 - 2xc loses precision)
    sq_dist = (x - centroids[assign]).pow(2).sum(1)
    dev = feats.device
    return centroids.to(dev), assign.to(dev), sq_dist.to(dev)
