# BYOL + CLIM on Fashion-MNIST (CPU): an mmmix extension, NOT in the CLIM
# paper (spec §3.10). The BYOL baseline config (same network, crops,
# optimiser, schedule, 20k images) with CLIM's three edits, as in
# clim_mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py:
#   1. mmmix.CLIMBYOL + mmmix.MixedLatentPredictHead (BYOL's predictor and
#      loss; lam ~ Beta(2, 2)); the dataset is wrapped in CLIMPairDataset,
#   2. the views come from MultiResolutionViews: one crop per view rendered
#      at 28 and 20 px (the paper's {224, 160} ratio),
#   3. CLIMHook selects positives (faiss k-means + kNN, centre-wise rule)
#      from the target network's projections before every epoch from
#      epoch 1 (the first epoch uses the anchor itself as its positive).
_base_ = [
    './byol_resnet18-w16_1xb256-3e_fashionmnist-20k.py',
    './_base_/clim_fashionmnist-20k.py',
]

model = dict(
    type='mmmix.CLIMBYOL',
    head=dict(type='mmmix.MixedLatentPredictHead'),
    num_resolutions=2,  # len(clim_scales)
    alpha=2.0,
    use_inst_loss=True,
    resolution_pairs='all',
    pair_reduction='mean')
train_dataloader = dict(dataset={{_base_.clim_train_dataset}})
custom_hooks = [{{_base_.clim_hook}}, {{_base_.fmnist_knn_hook}}]
