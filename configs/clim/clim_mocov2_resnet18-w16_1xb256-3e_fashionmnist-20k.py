# MoCo v2 + CLIM on Fashion-MNIST (runs on a CPU): the MoCo v2 baseline
# config (same network, crops, optimiser, schedule, 20k images) with CLIM's
# three edits:
#   1. the dataset is wrapped in CLIMPairDataset (anchor + one positive),
#   2. the views come from MultiResolutionViews: one crop per view rendered
#      at 28 and 20 px (the paper's {224, 160} ratio),
#   3. CLIMHook selects positives (faiss k-means + kNN, centre-wise rule)
#      from the key encoder's features before every epoch from epoch 1
#      (the first epoch uses the anchor itself as its positive).
_base_ = [
    './mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py',
    './_base_/clim_fashionmnist-20k.py',
]

model = dict(
    type='mmmix.CLIMMoCo',
    head=dict(type='mmmix.MixedContrastiveHead'),
    num_resolutions=2,  # len(clim_scales)
    alpha=2.0,
    use_inst_loss=True,
    resolution_pairs='all',
    pair_reduction='mean')
train_dataloader = dict(dataset={{_base_.clim_train_dataset}})
custom_hooks = [{{_base_.clim_hook}}, {{_base_.fmnist_knn_hook}}]
