# BYOL + InterCLR on Fashion-MNIST (CPU): the BYOL baseline of the CLIM
# comparison (../clim/byol_resnet18-w16_1xb256-3e_fashionmnist-20k.py) plus
# InterCLR's inter-image branch as the paper describes it for BYOL (no
# negatives, no margin: each view's prediction regresses onto one bank entry
# of its cluster), lambda = 0.75, online labels, the memory holding the
# normalised mean of the two views' target projections (momentum 1),
# 100 clusters, min_cluster 20. No official code exists for this variant
# (spec ambiguity A5).
_base_ = [
    '../clim/byol_resnet18-w16_1xb256-3e_fashionmnist-20k.py',
    './_base_/interclr_fashionmnist-20k.py',
]

model = dict(
    type='mmmix.InterCLRBYOL',
    memory={{_base_.interclr_fmnist_memory}},
    intra_weight=0.75,
    label_update='online')
custom_hooks = [{{_base_.fmnist_knn_hook}}, {{_base_.interclr_fmnist_hook}}]
