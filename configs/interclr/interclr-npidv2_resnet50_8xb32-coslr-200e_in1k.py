# NPIDv2 + InterCLR on ImageNet-1k, ResNet-50, 200 epochs, 8 GPUs x 32
# images (spec interclr.md §3.6.1, §4.1, §4.2): the paper's prototype, the
# base of every ablation (ablations/). No official code exists for it.
#
# The NPIDv2 baseline (npidv2_resnet50_8xb32-coslr-200e_in1k.py: network,
# views, memory momentum 0.5, SGD lr 0.03 cosine, batch 256) with
# InterCLR's edits:
#   * model mmmix.InterCLRNPID: loss = 0.75 * intra + 0.25 * inter (lambda
#     = 0.75). Intra: NPID's InfoNCE (own memory entry vs K = 16,384 random
#     entries, temperature 0.1, margin 0). Inter: MarginNCE (margin -0.5,
#     temperature 0.1) against one entry of the anchor's k-means cluster and
#     K = 16,384 semi-hard negatives (drawn from the 10% most similar rows
#     of other clusters);
#   * the same memory (the online embeddings, momentum 0.5) now carries
#     k = 10,000 cluster labels, refreshed online;
#   * mmmix.InterCLRHook instead of mmmix.MemoryBankHook: initial k-means of
#     the centre-cropped training images, centroids every 10 iterations,
#     cluster repair every iteration, statistics every 50 (see
#     _base_/interclr_in1k.py).
_base_ = './npidv2_resnet50_8xb32-coslr-200e_in1k.py'

model = dict(
    type='mmmix.InterCLRNPID',
    head=dict(margin=0.),
    inter_head=dict(
        type='mmmix.MarginNCEHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.1,
        margin=-0.5),
    memory=dict(
        num_clusters={{_base_.interclr_num_clusters}},
        assign_metric='dot',
        min_cluster=20),
    intra_weight=0.75,
    num_negatives=16384,
    num_inter_negatives=None,
    neg_strategy='semihard',
    pool_ratio=0.1,
    exclude_self_positive=False,
    label_update='online')

custom_hooks = [{{_base_.interclr_hook}}]
