# SimSiam + CLIM on ImageNet-1k, ResNet-50: an mmmix extension, NOT in the
# CLIM paper (which defines CLIM for MoCo v2 only; spec §3.10), so there are
# no reference numbers. mmpretrain's SimSiam config (8 GPUs x 32, SGD lr
# 0.05, wd 1e-4, cosine, 100 epochs, the predictor at a fixed lr through
# SimSiamHook) with CLIM's edits, as in the MoCo v2 configs:
#   * mmmix.CLIMSimSiam + mmmix.MixedLatentPredictHead (SimSiam's predictor
#     and cosine loss): every (query view, key view) term of SimSiam's
#     symmetric loss also gets the mixed image vs the anchor's and the
#     positive's projections, weighted lam and 1 - lam (stop-gradient on
#     the targets); lam ~ Beta(2, 2), R = {224, 160}, mean over the pairs;
#   * ImageNet wrapped in mmmix.CLIMPairDataset, views from
#     mmmix.MultiResolutionViews (SimSiam's = MoCo v2's crops and ops);
#   * mmmix.CLIMHook every 5 epochs from epoch 0 on the online encoder's
#     projections (SimSiam has no momentum encoder) of the centre-cropped
#     images: m = 10,000, k = 40, the centre-wise rule, 10 positives.
_base_ = [
    'mmpretrain::simsiam/simsiam_resnet50_8xb32-coslr-100e_in1k.py',
    './_base_/clim_in1k_selection.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

scales = (224, 160)

model = dict(
    type='mmmix.CLIMSimSiam',
    head=dict(type='mmmix.MixedLatentPredictHead'),
    num_resolutions=len(scales),
    alpha=2.0,
    mix_prob=1.0,
    mix=True,
    use_inst_loss=True,
    resolution_pairs='all',
    pair_reduction='mean')

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmmix.MultiResolutionViews',
         num_views=2,
         scales=scales,
         crop_ratio_range=(0.2, 1.),
         flip_prob=0.5,
         interpolation='bilinear',
         backend='pillow',
         transforms={{_base_.clim_photometric}}),  # SimSiam's = MoCo v2's
    dict(type='PackInputs'),
]

data_root = 'data/imagenet/'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmmix.CLIMPairDataset',
        pool_size=10,
        dataset=dict(
            type='ImageNet',
            data_root=data_root,
            split='train',
            pipeline=train_pipeline)))

lr = {{_base_.lr}}
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True, lr=lr),
    {{_base_.clim_hook}},
]
