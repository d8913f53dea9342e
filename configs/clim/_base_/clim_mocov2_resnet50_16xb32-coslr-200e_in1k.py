# MoCo v2 + CLIM on ImageNet-1k, ResNet-50 (Li et al., 2020; CLIM spec
# clim.md §1, §3.5-3.9, §4): the shared base of the CLIM
# ImageNet configs, 200 epochs with multi-resolution R = {224, 160}.
#
# mmpretrain's MoCo v2 config with CLIM's edits:
#   * model: mmmix.CLIMMoCo + mmmix.MixedContrastiveHead; CutMix
#     lam ~ Beta(2, 2) per sample (Table 9), always mixed, the instance term
#     kept (A1), Eq. 6 over all ordered resolution pairs, mean (A12), anchor
#     keys of the first resolution enqueued (A11); MoCo v2's queue 65536,
#     temperature 0.2, key-encoder momentum 0.999 (momentum=0.001) (A15);
#   * data: ImageNet train wrapped in mmmix.CLIMPairDataset (anchor + one
#     positive from a pool of 10); views from mmmix.MultiResolutionViews: two
#     RandomResizedCrop (0.2, 1) draws, each flipped and rendered at every
#     r in R, MoCo v2's photometric ops drawn per copy;
#   * mmmix.CLIMHook: every 5 epochs from epoch 0, key-encoder features of
#     the centre-cropped training images, faiss k-means (m = 10,000), exact
#     kNN (k = 40), the centre-wise rule (Eq. 2), 10 positives per anchor;
#   * schedule: batch 512 = 16 GPUs x 32, SGD lr 0.06 (= 0.03 x 512 / 256),
#     momentum 0.9, wd 1e-4, cosine, no warm-up (A15, A22).
_base_ = [
    'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
    './clim_in1k_selection.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

max_epochs = 200
scales = (224, 160)  # R: the first one is the base (enqueued) resolution

model = dict(
    type='mmmix.CLIMMoCo',
    queue_len=65536,
    feat_dim=128,
    momentum=0.001,
    head=dict(type='mmmix.MixedContrastiveHead', temperature=0.2),
    num_resolutions=len(scales),
    alpha=2.0,
    mix_prob=1.0,
    per_batch=False,
    mix=True,
    use_inst_loss=True,
    inst_weight=1.0,
    mix_weight=1.0,
    resolution_pairs='all',
    pair_reduction='mean',
    enqueue='anchor_base')

views = dict(
    type='mmmix.MultiResolutionViews',
    num_views=2,
    scales=scales,
    crop_ratio_range=(0.2, 1.),
    flip_prob=0.5,
    interpolation='bilinear',
    backend='pillow',
    transforms={{_base_.clim_photometric}})
train_pipeline = [
    dict(type='LoadImageFromFile'),
    views,
    dict(type='PackInputs'),
]

data_root = 'data/imagenet/'
train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        _delete_=True,
        type='mmmix.CLIMPairDataset',
        pool_size=10,
        dataset=dict(
            type='ImageNet',
            data_root=data_root,
            split='train',
            pipeline=train_pipeline)))

custom_hooks = [{{_base_.clim_hook}}]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, weight_decay=1e-4, momentum=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

# lr 0.06 is for 512 images a step (16 GPUs x 32): `--auto-scale-lr` scales
# it to the real batch.
auto_scale_lr = dict(base_batch_size=512)
