"""Pure tensor maths: no registry, no config."""
from .adversarial import fgsm, input_gradient, pgd
from .calibration import calibration_errors, ood_detection_scores
from .clustering import kmeans
from .contrastive import (
    cosine_pair_losses,
    mixed_pair_loss,
    nce_pair_losses,
)
from .cutmix import cutmix_boxes, pairwise_cutmix, sample_cutmix_params
from .dino import (
    DORA_LOSS_MODES,
    clip_grad_per_param_,
    distillation_cross_entropy,
    dora_pair_weights,
    multicrop_pair_weights,
    teacher_temperature,
)
from .frechet import feature_statistics, frechet_distance
from .knn import knn_accuracy, knn_graph, knn_search, weighted_knn_scores
from .latent_views import (
    PERTURB_MODES,
    WSEARCH_ANCHORS,
    WSEARCH_FORMS,
    WSEARCH_STOPS,
    expert_distances,
    truncate,
    w_perturb,
    w_search,
    wsearch_loss,
)
from .object_tracking import (
    MASK_MODES,
    concat_heads,
    discover_prototypes,
    object_masks,
    random_block_masks,
    refine_prototypes,
    sample_heads,
    track_objects,
)
from .pair_sampling import (
    NEGATIVE_STRATEGIES,
    draw_cluster_positives,
    draw_random_negatives,
    gather_scores,
    sample_negatives,
)
from .positive_selection import (
    FILL_RULES,
    SELECTION_MODES,
    PositiveTable,
    center_wise_pool,
    cluster_table,
    draw_positives,
    pool_table,
    select_positives,
    selection_stats,
)
from .pseudo_labels import (
    ASSIGN_METRICS,
    assign_labels,
    check_cluster_setup,
    cluster_means,
    cluster_sizes,
    cluster_stats,
    momentum_update,
    repair_clusters,
)
from .retrieval import (
    alignment,
    anchor_mixed_similarities,
    faiss_search,
    intra_class_similarity,
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
    'alignment', 'uniformity', 'intra_class_similarity',
    'ms_positivity_threshold', 'ms_mixed_grad',
    'ms_mixed_grad_sign', 'sample_pos_neg_pairs', 'mix_embeddings',
    'pos_neg_mixup', 'anchor_mixed_similarities', 'positivity_curve',
    'nce_pair_losses', 'cosine_pair_losses', 'mixed_pair_loss',
    'sample_cutmix_params', 'cutmix_boxes', 'pairwise_cutmix',
    'knn_graph', 'kmeans', 'PositiveTable', 'draw_positives',
    'center_wise_pool', 'select_positives', 'selection_stats', 'pool_table',
    'cluster_table', 'SELECTION_MODES', 'FILL_RULES',
    'NEGATIVE_STRATEGIES', 'draw_cluster_positives', 'draw_random_negatives',
    'gather_scores', 'sample_negatives', 'ASSIGN_METRICS', 'assign_labels',
    'check_cluster_setup', 'cluster_means', 'cluster_sizes', 'cluster_stats',
    'momentum_update', 'repair_clusters', 'DORA_LOSS_MODES',
    'clip_grad_per_param_', 'distillation_cross_entropy',
    'dora_pair_weights', 'multicrop_pair_weights', 'teacher_temperature',
    'MASK_MODES', 'concat_heads', 'sample_heads', 'discover_prototypes',
    'refine_prototypes', 'track_objects', 'object_masks', 'random_block_masks',
    'feature_statistics', 'frechet_distance', 'truncate', 'w_perturb',
    'wsearch_loss', 'w_search', 'expert_distances', 'WSEARCH_FORMS',
    'PERTURB_MODES', 'WSEARCH_ANCHORS', 'WSEARCH_STOPS'
]
