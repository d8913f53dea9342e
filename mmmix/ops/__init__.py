"""Pure tensor maths: no registry, no config."""
from .adversarial import fgsm, input_gradient, pgd
from .calibration import calibration_errors, ood_detection_scores
from .knn import knn_accuracy, knn_search, weighted_knn_scores
from .retrieval import (
    alignment,
    anchor_mixed_similarities,
    faiss_search,
    l2_normalize,
    map_at_r,
    mix_embeddings,
    ms_mixed_grad,
    ms_mixed_grad_sign,
    ms_positivity_threshold,
    pos_neg_mixup,
    positivity_curve,
    recall_at_k,
    retrieve,
    sample_pos_neg_pairs,
    uniformity,
    utilization,
)
from .sinkhorn import pairwise_sqeuclidean, sinkhorn_log

__all__ = [
    'knn_search', 'weighted_knn_scores', 'knn_accuracy',
    'pairwise_sqeuclidean', 'sinkhorn_log', 'calibration_errors',
    'ood_detection_scores', 'fgsm', 'pgd', 'input_gradient', 'faiss_search',
    'retrieve', 'recall_at_k', 'map_at_r', 'l2_normalize', 'utilization',
    'alignment', 'uniformity', 'ms_positivity_threshold', 'ms_mixed_grad',
    'ms_mixed_grad_sign', 'sample_pos_neg_pairs', 'mix_embeddings',
    'pos_neg_mixup', 'anchor_mixed_similarities', 'positivity_curve'
]
