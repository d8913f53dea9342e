# SimCLR on CIFAR-10 as in "On Assimilating Learned Views in Contrastive
# Learning" (spec assimilating_views.md 2, 5, 6.1, Table 9; E-SSL codebase):
# the CIFAR ResNet-18 (512-d) with the 512-2048-2048 projector (last BN
# without affine), the cross-view InfoNCE of Eq. 12 at tau = 0.5, SGD lr
# 0.015 (= 0.03 x 128 / 256) momentum 0.9, weight decay 5e-5 (the paper's;
# the code's default is 5e-4, spec A20), batch 128, 800 epochs: 10 warm-up
# epochs linear from ~0, then cosine to 0 per iteration; expert views:
# RandomResizedCrop (0.2, 1), flip, colour jitter (0.4, 0.4, 0.4, 0.1) with
# p = 0.8, grey with p = 0.2, no blur.
#
# Generated views come from the offline caches of
# tools/learned_views/build_view_cache.py (8 views per image, one drawn per
# iteration, spec 4.6): W-search and W-perturb. This base defines the
# training pipelines of every variant (spec U3, U4, A13):
#   baseline:  [expert, expert]
#   A1:        [expert, generated + crop_small (0.9-1, ratio 0.9-1.1) + flip]
#   A2:        [expert, expert, generated + flip]  (generated view LAST)
#   expert3:   [expert, expert, expert]  (A2 loss with a third expert view)
# Artefact paths: see configs/learned_views/README.md (a child config that
# redefines one of these variables does NOT change the pipelines built
# here).
_base_ = './ssl_runtime.py'

data_root = 'data/cifar10'
num_samples = 50000
input_size = 32
# E-SSL's CIFAR-10 mean / std (0.4914, 0.4822, 0.4465) / (0.2023, 0.1994,
# 0.2010) on the 0-255 scale; mmpretrain's CIFAR arrays are RGB.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
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

views_dir = 'work_dirs/learned_views/cifar10'
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

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CIFAR10',
        data_root=data_root,
        split='train',
        pipeline=baseline_pipeline))

temperature = 0.5
alpha = 0.5
model = dict(
    type='mmmix.A2SimCLR',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=2048,
        out_channels=2048,
        num_layers=2,
        with_bias=False,
        with_last_bn=True,
        with_last_bn_affine=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    head=None,
    alpha=alpha,
    temperature=temperature,
    base_loss='infonce',  # Eq. 12, the CIFAR-10 base loss (Table 9)
    align_anchors='all',  # Eq. 4 (the C10 code aligned view 1 only: A8)
    forward_mode='concat',  # one BN batch over all views (spec A12)
    loss_weight=1.0)

base_lr = 0.03
batch_size = 128
lr = base_lr * batch_size / 256  # 0.015, the paper's value (spec 6.1)
weight_decay = 5e-5
max_epochs = 800
warmup_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=lr, weight_decay=weight_decay,
                   momentum=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0., by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=batch_size)

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
log_processor = dict(window_size=50)
randomness = dict(seed=0, deterministic=False)
