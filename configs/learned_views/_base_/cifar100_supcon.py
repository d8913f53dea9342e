# SimCLR on CIFAR-100 as in "On Assimilating Learned Views in Contrastive
# Learning" (spec assimilating_views.md 2, 5, 6.1, Table 9; SupContrast
# codebase): the CIFAR ResNet-50 (2048-d) with SupConResNet's
# 2048-2048-128 head (linear-ReLU-linear with biases, no BN: MoCoV2Neck),
# tau = 0.5, SGD lr 0.5 momentum 0.9, weight decay 1e-4, batch 512, 1200
# epochs (spec A21): 10 warm-up epochs from lr 0.01, then cosine per epoch to
# eta_min = 0.5 x 0.1^3 = 5e-4; every loss (baseline included) multiplied by
# tau / 0.07 = 7.142857 as in the SupContrast code (spec A11). The base loss
# is NT-Xent (Eq. 1); A2 uses the cross-view InfoNCE of Eq. 12 (Table 11,
# spec A10): the A2 configs set model.base_loss='infonce'. Expert views:
# RandomResizedCrop (0.2, 1), flip, colour jitter (0.4, 0.4, 0.4, 0.1) with
# p = 0.8, grey with p = 0.2. SyncBN over the 4 GPUs of the paper.
#
# Pipelines of every variant as in _base_/cifar10_essl.py (spec U3, U4,
# A13): baseline, A1 (crop_small + flip on the generated view), A2 (flip;
# generated view LAST), expert3. Artefact paths: see
# configs/learned_views/README.md.
_base_ = './ssl_runtime.py'

data_root = 'data/cifar100'
num_samples = 50000
input_size = 32
# SupContrast's CIFAR-100 mean / std (0.5071, 0.4867, 0.4408) / (0.2675,
# 0.2565, 0.2761) on the 0-255 scale; mmpretrain's CIFAR arrays are RGB.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[129.3105, 124.1085, 112.404],
    std=[68.2125, 65.4075, 70.4055],
    to_rgb=False)

expert = [
    dict(type='RandomResizedCrop', scale=input_size,
         crop_ratio_range=(0.2, 1.), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.2989, 0.587, 0.114)),  # RGB arrays
]
crop_small = dict(type='RandomResizedCrop', scale=input_size,
                  crop_ratio_range=(0.9, 1.), aspect_ratio_range=(0.9, 1.1),
                  backend='pillow')
flip = dict(type='RandomFlip', prob=0.5)

views_dir = 'work_dirs/learned_views/cifar100'
wsearch_cache = views_dir + '/cache_wsearch'
wperturb_cache = views_dir + '/cache_wperturb'
load_wsearch = dict(type='mmmix.LoadGeneratedView', cache=wsearch_cache,
                    num_use=8, channel_order='rgb',
                    expected_num_samples=num_samples)
load_wperturb = dict(type='mmmix.LoadGeneratedView', cache=wperturb_cache,
                     num_use=8, channel_order='rgb',
                     expected_num_samples=num_samples)


def _views(num_views, transforms):
    return [dict(type='MultiView', num_views=num_views,
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
        type='CIFAR100',
        data_root=data_root,
        split='train',
        pipeline=baseline_pipeline))

temperature = 0.5
alpha = 0.5
model = dict(
    type='mmmix.A2SimCLR',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
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
max_epochs = 1200
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
