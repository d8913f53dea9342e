# SimCLR on TinyImageNet (64 px) as in "On Assimilating Learned Views in
# Contrastive Learning" (spec assimilating_views.md 2, 5, 6.1, Table 9;
# SupContrast codebase, scripts/run_tinyin_*.sh): the CIFAR ResNet-18
# (512-d; 3x3 stem, no max-pool, on 64 px) with SupConResNet's 512-512-128
# head (linear-ReLU-linear with biases, no BN: MoCoV2Neck), tau = 0.5, SGD
# lr 0.5 momentum 0.9, weight decay 1e-4, batch 512, 1000 epochs: 10
# warm-up epochs from lr 0.01, then cosine per epoch to eta_min = 0.5 x
# 0.1^3 = 5e-4; every loss (baseline included) multiplied by tau / 0.07 =
# 7.142857 as in the SupContrast code (spec A11). The base loss
# is NT-Xent (Eq. 1); A2 uses the cross-view InfoNCE of Eq. 12 (Table 11,
# spec A10; the code's 'essl+pos_app'): the A2 configs set
# model.base_loss='infonce'. Expert views: RandomResizedCrop (0.2, 1) at 64
# px, flip, colour jitter (0.4, 0.4, 0.4, 0.1) with p = 0.8, grey with p =
# 0.2. SyncBN over the 4 GPUs (the T64 scripts use SyncBN).
#
# Data layout (mmpretrain CustomDataset): data/tiny-imagenet-200/train/
# <wnid>/images/*.JPEG as distributed (100,000 images); decoded as BGR.
#
# Pipelines of every variant as in _base_/cifar10_essl.py (spec U3, U4,
# A13): baseline, A1 (crop_small + flip on the generated view), A2 (flip;
# generated view LAST), expert3. Artefact paths: see
# configs/learned_views/README.md.
_base_ = './ssl_runtime.py'

data_root = 'data/tiny-imagenet-200'
num_samples = 100000
input_size = 64
# The code's TinyImageNet mean / std (0.480, 0.448, 0.398) / (0.277,
# 0.269, 0.282) on the 0-255 scale (RGB, after the BGR -> RGB conversion).
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[122.4, 114.24, 101.49],
    std=[70.635, 68.595, 71.91],
    to_rgb=True)

expert = [
    dict(type='RandomResizedCrop', scale=input_size,
         crop_ratio_range=(0.2, 1.), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),  # BGR images
]
crop_small = dict(type='RandomResizedCrop', scale=input_size,
                  crop_ratio_range=(0.9, 1.), aspect_ratio_range=(0.9, 1.1),
                  backend='pillow')
flip = dict(type='RandomFlip', prob=0.5)

views_dir = 'work_dirs/learned_views/tinyimagenet64'
wsearch_cache = views_dir + '/cache_wsearch'
wperturb_cache = views_dir + '/cache_wperturb'
load_wsearch = dict(type='mmmix.LoadGeneratedView', cache=wsearch_cache,
                    num_use=8, channel_order='bgr',
                    expected_num_samples=num_samples)
load_wperturb = dict(type='mmmix.LoadGeneratedView', cache=wperturb_cache,
                     num_use=8, channel_order='bgr',
                     expected_num_samples=num_samples)


def _views(num_views, transforms):
    return [dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=num_views,
                 transforms=transforms),
            dict(type='PackInputs')]


baseline_pipeline = _views(2, [expert])
a1_wsearch_pipeline = _views([1, 1], [expert, [load_wsearch, crop_small,
                                               flip]])
a1_wperturb_pipeline = _views([1, 1], [expert, [load_wperturb, crop_small,
                                                flip]])
a2_wsearch_pipeline = _views([2, 1], [expert, [load_wsearch, flip]])
a2_wperturb_pipeline = _views([2, 1], [expert, [load_wperturb, flip]])
expert3_pipeline = _views(3, [expert])

num_gpus = 4
batch_per_gpu = 128
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
        pipeline=baseline_pipeline))

temperature = 0.5
alpha = 0.5
model = dict(
    type='mmmix.A2SimCLR',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=512,
        hid_channels=512,
        out_channels=128,
        with_avg_pool=True),
    head=None,
    alpha=alpha,
    temperature=temperature,
    base_loss='ntxent',  # SupContrast's SimCLR loss (Table 9)
    align_anchors='all',  # Eq. 4: both anchors, as the SupContrast code
    forward_mode='concat',  # all views in one forward, as SupContrast
    loss_weight=temperature / 0.07)  # 7.142857 (spec A11)

lr = 0.5  # Table 9, not rescaled by the batch
weight_decay = 1e-4
max_epochs = 1000
warmup_epochs = 10
eta_min = lr * 0.1**3
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=lr, weight_decay=weight_decay,
                   momentum=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01 / lr, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=eta_min, by_epoch=True, begin=warmup_epochs,
         end=max_epochs),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=batch_size)

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
log_processor = dict(window_size=50)
randomness = dict(seed=0, deterministic=False)
