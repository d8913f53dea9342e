# SimCLR on ImageNet-sized FAKE data as in "On Assimilating Learned Views in
# Contrastive Learning" Table 4 (spec assimilating_views.md 4.2, 6.4, A25):
# SSL on 1.3M 128 px BigBiGAN samples only (Jahanian et al. 2021), linear
# probe on real ImageNet. The paper gives nothing else: the settings below
# are the E-SSL ImageNet SimCLR script's ([C] imagenet/simclr/main3.py,
# plausibly what was used but UNVERIFIED): ResNet-50 (zero-init residual,
# SyncBN), projector 2048-2048-128 with BN, the cross-view InfoNCE with tau
# = 0.2 and alpha = 0.2, LARS lr 4.8 (not rescaled by the batch) with
# weight decay 1e-6, batch 4096, 100 epochs: 10 warm-up epochs, then cosine
# to 0.001 x lr. Generated view (A2): RandomResizedCrop(224, bicubic) +
# flip, as the script. Not reproduced: AMP and the online linear head.
# Expert views (not given anywhere): mmpretrain's SimCLR ImageNet views.
#
# Data layout (mmpretrain CustomDataset without labels): the fakes as image
# files under data/bigbigan-in1k/train/ (any sub-folders), decoded as BGR.
# W-perturb views need BigBiGAN's own encoder and generator, which mmmix
# does not include: write the cache with mmmix.datasets.ViewCache (README).
_base_ = './ssl_runtime.py'

data_root = 'data/bigbigan-in1k'
num_samples = None  # the number of fakes you generated (~1.3M)
input_size = 224
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

expert = [
    dict(type='RandomResizedCrop', scale=input_size, backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.8, contrast=0.8,
                          saturation=0.8, hue=0.2)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),  # BGR images
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_std='inf', prob=0.5),
]
# A1's weak crop (spec 5.1) and A2's crop of the E-SSL ImageNet script
crop_small = dict(type='RandomResizedCrop', scale=input_size,
                  crop_ratio_range=(0.9, 1.), aspect_ratio_range=(0.9, 1.1),
                  interpolation='bicubic', backend='pillow')
crop_a2 = dict(type='RandomResizedCrop', scale=input_size,
               interpolation='bicubic', backend='pillow')
flip = dict(type='RandomFlip', prob=0.5)

views_dir = 'work_dirs/learned_views/bigbigan-in1k'
wperturb_cache = views_dir + '/cache_wperturb'
load_wperturb = dict(type='mmmix.LoadGeneratedView', cache=wperturb_cache,
                     num_use=8, channel_order='bgr',
                     expected_num_samples=num_samples)


def _views(num_views, transforms):
    return [dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=num_views,
                 transforms=transforms),
            dict(type='PackInputs')]


baseline_pipeline = _views(2, [expert])
a1_wperturb_pipeline = _views([1, 1], [expert, [load_wperturb, crop_small,
                                                flip]])
a2_wperturb_pipeline = _views([2, 1], [expert, [load_wperturb, crop_a2,
                                                flip]])

num_gpus = 16
batch_per_gpu = 256
batch_size = num_gpus * batch_per_gpu
train_dataloader = dict(
    batch_size=batch_per_gpu,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        with_label=False,
        pipeline=baseline_pipeline))

temperature = 0.2
alpha = 0.2
model = dict(
    type='mmmix.A2SimCLR',
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=True),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        with_last_bn=True,
        with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    head=None,
    alpha=alpha,
    temperature=temperature,
    base_loss='infonce',  # the script's 'infonce+diag'
    align_anchors='all',
    forward_mode='concat',
    loss_weight=1.0)

lr = 4.8  # LARS, not rescaled by the batch
weight_decay = 1e-6
max_epochs = 100
warmup_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=lr, momentum=0.9,
                   weight_decay=weight_decay),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            'downsample.1': dict(decay_mult=0, lars_exclude=True),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=lr * 1e-3, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=batch_size)

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
log_processor = dict(window_size=50)
randomness = dict(seed=0, deterministic=False)
