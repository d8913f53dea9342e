"""Pure tensor maths: no registry, no config."""
from .knn import knn_accuracy, knn_search, weighted_knn_scores
from .sinkhorn import pairwise_sqeuclidean, sinkhorn_log

__all__ = [
    'knn_search', 'weighted_knn_scores', 'knn_accuracy',
    'pairwise_sqeuclidean', 'sinkhorn_log'
]
