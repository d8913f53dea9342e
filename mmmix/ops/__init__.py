"""Pure tensor maths: no registry, no config."""
from .adversarial import fgsm, input_gradient, pgd
from .calibration import calibration_errors, ood_detection_scores
from .knn import knn_accuracy, knn_search, weighted_knn_scores
from .sinkhorn import pairwise_sqeuclidean, sinkhorn_log

__all__ = [
    'knn_search', 'weighted_knn_scores', 'knn_accuracy',
    'pairwise_sqeuclidean', 'sinkhorn_log', 'calibration_errors',
    'ood_detection_scores', 'fgsm', 'pgd', 'input_gradient'
]
