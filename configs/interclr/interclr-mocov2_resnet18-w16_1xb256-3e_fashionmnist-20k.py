# MoCo v2 + InterCLR on Fashion-MNIST (CPU): the MoCo v2 baseline of the CLIM
# comparison (../clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py: the
# quickstart's network, views and optimiser, 3 epochs on the first 20,000
# training images) plus InterCLR's inter-image branch with the paper's final
# choices: online labels, semi-hard negatives from the top 10% pool, inter
# margin -0.5, intra margin 0, lambda = 0.75, memory momentum 1 (the keys),
# 10x over-clustering (100 clusters for 10 classes), min_cluster 20.
# K = 1,024 inter negatives (the queue length; the 2,000-row pool must hold
# K) and the intra temperature 0.1 for both branches.
_base_ = [
    '../clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py',
    './_base_/interclr_fashionmnist-20k.py',
]

model = dict(
    type='mmmix.InterCLRMoCo',
    head=dict(type='mmmix.MarginNCEHead', temperature=0.1, margin=0.),
    inter_head=dict(type='mmmix.MarginNCEHead', temperature=0.1,
                    margin=-0.5),
    memory={{_base_.interclr_fmnist_memory}},
    intra_weight=0.75,
    num_negatives=1024,
    neg_strategy='semihard',
    pool_ratio=0.1,
    label_update='online')
custom_hooks = [{{_base_.fmnist_knn_hook}}, {{_base_.interclr_fmnist_hook}}]
