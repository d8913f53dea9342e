# MoCo v2 + InterCLR on ImageNet-1k, ResNet-50, 200 epochs, 8 GPUs x 32
# images (spec interclr.md §3.6.2, §4.1, §4.2): the variant with released
# code, and the paper's final choices.
#
# mmpretrain's MoCo v2 config (queue 65,536, key-encoder momentum 0.999 =
# momentum=0.001, MoCoV2Neck 2048-2048-128, its augmentation, SGD lr 0.03,
# momentum 0.9, wd 1e-4, cosine over 200 epochs, batch 256) with
# InterCLR's edits:
#   * model mmmix.InterCLRMoCo: loss = 0.75 * intra + 0.25 * inter (lambda
#     = 0.75). Intra: MoCo v2's InfoNCE (MarginNCEHead, margin 0,
#     temperature 0.2, which is ContrastiveHead exactly). Inter: MarginNCE
#     (margin -0.5, temperature 0.2) of the query against one bank entry of
#     its k-means cluster and K = 16,384 semi-hard negatives (drawn from
#     the 10% = 128,117 most similar rows of other clusters);
#   * memory: the key encoder's normalised outputs, momentum 1, k = 10,000
#     clusters, labels refreshed online (every step the batch's rows join
#     their nearest centroid);
#   * mmmix.InterCLRHook: initial k-means of the online encoder's features
#     of the centre-cropped training images; centroids every 10 iterations,
#     cluster repair every iteration, statistics every 50 (see
#     _base_/interclr_in1k.py).
# Only the data sampler differs from the released code: mmengine's shuffled
# DefaultSampler, not sampling with replacement (spec A9).
_base_ = [
    'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
    './_base_/interclr_in1k.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

model = dict(
    type='mmmix.InterCLRMoCo',
    head=dict(type='mmmix.MarginNCEHead', temperature=0.2, margin=0.),
    inter_head=dict(
        type='mmmix.MarginNCEHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2,
        margin=-0.5),
    memory={{_base_.interclr_memory}},
    intra_weight=0.75,
    num_negatives=16384,
    neg_strategy='semihard',
    pool_ratio=0.1,
    exclude_self_positive=False,
    label_update='online')

custom_hooks = [{{_base_.interclr_hook}}]
