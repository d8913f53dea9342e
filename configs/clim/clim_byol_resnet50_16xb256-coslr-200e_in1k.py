# BYOL + CLIM on ImageNet-1k, ResNet-50: an mmmix extension, NOT in the CLIM
# paper (which defines CLIM for MoCo v2 only; spec §3.10), so there are no
# reference numbers. mmpretrain's BYOL config (16 GPUs x 256, LARS lr 4.8,
# wd 1e-6, 10 warm-up epochs then cosine, 200 epochs, target momentum 0.99
# -> 1) with CLIM's edits, as in the MoCo v2 configs:
#   * mmmix.CLIMBYOL + mmmix.MixedLatentPredictHead (BYOL's predictor and
#     loss): every (online view, target view) term of BYOL's symmetric loss
#     also gets the mixed image vs the anchor's and the positive's target
#     projections, weighted lam and 1 - lam; lam ~ Beta(2, 2),
#     R = {224, 160}, mean over the pairs;
#   * ImageNet wrapped in mmmix.CLIMPairDataset, views from
#     mmmix.MultiResolutionViews: BYOL's crops (scale (0.08, 1), bicubic)
#     and its two asymmetric photometric pipelines, one per view (blur
#     p = 1 / 0.1, solarize p = 0 / 0.2), as mmpretrain's MultiView;
#   * mmmix.CLIMHook every 5 epochs from epoch 0 on the target network's
#     projections of the centre-cropped images: m = 10,000, k = 40, the
#     centre-wise rule, 10 positives.
_base_ = [
    'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py',
    './_base_/clim_in1k_selection.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

scales = (224, 160)

model = dict(
    type='mmmix.CLIMBYOL',
    head=dict(type='mmmix.MixedLatentPredictHead'),
    num_resolutions=len(scales),
    alpha=2.0,
    mix_prob=1.0,
    mix=True,
    use_inst_loss=True,
    resolution_pairs='all',
    pair_reduction='mean')



def _photometric(blur_prob, solarize_prob):
    return [
        dict(type='RandomApply',
             transforms=[
                 dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                      saturation=0.2, hue=0.1)
             ],
             prob=0.8),
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989)),
        dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
             magnitude_std='inf', prob=blur_prob),
        dict(type='Solarize', thr=128, prob=solarize_prob),
    ]


# BYOL's view pipelines 1 and 2
photometric = [_photometric(1., 0.), _photometric(0.1, 0.2)]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmmix.MultiResolutionViews',
         num_views=2,
         scales=scales,
         crop_ratio_range=(0.08, 1.),
         flip_prob=0.5,
         interpolation='bicubic',
         backend='pillow',
         transforms=photometric),
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

custom_hooks = [
    {{_base_.clim_hook}},
]
