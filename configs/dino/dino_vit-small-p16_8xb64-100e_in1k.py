# DINO ViT-S/16 on ImageNet-1k (Caron et al. 2021; the settings DoRA's thesis
# compares against): 2 global crops at 224 + 8 local crops at 96, teacher EMA
# 0.996 -> 1 (cosine), teacher temperature 0.04 -> 0.07 over 30 epochs,
# AdamW lr 5e-4 x bs/256 with 10 warm-up epochs and cosine to 1e-6, weight
# decay 0.04 -> 0.4 (cosine, biases and norms undecayed), per-tensor gradient
# clipping at 3.0, last layer frozen during epoch 0, fp16.
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

max_epochs = 100
batch_size = 64  # per GPU, 8 GPUs
num_local = 8
out_channels = 65536
data_root = 'data/imagenet/'

model = dict(
    type='DINO',
    num_global_views=2,
    base_momentum=0.004,  # teacher alpha 0.996 -> 1
    end_momentum=0.,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='mmpretrain.VisionTransformer',
        arch='deit-small',  # 384-d, 12 layers, 6 heads (not arch='small')
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        out_type='cls_token',
        final_norm=True),
    head=dict(
        type='DINOHead',
        in_channels=384,
        out_channels=out_channels,
        hidden_channels=2048,
        bottleneck_channels=256,
        norm_last_layer=True),
    loss=dict(
        type='DINOLoss',
        out_channels=out_channels,
        student_temp=0.1,
        teacher_temp=0.07,
        warmup_teacher_temp=0.04,
        warmup_teacher_temp_epochs=30,
        center_momentum=0.9))

color_jitter = dict(
    type='RandomApply',
    transforms=[
        dict(type='ColorJitter', brightness=0.4, contrast=0.4,
             saturation=0.2, hue=0.1)
    ],
    prob=0.8)
gray = dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
            channel_weights=(0.114, 0.587, 0.2989))


def _blur(prob):
    return dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
                magnitude_std='inf', prob=prob)


def _crop(size, scale):
    return dict(type='RandomResizedCrop', scale=size, crop_ratio_range=scale,
                interpolation='bicubic', backend='pillow')


global_1 = [_crop(224, (0.4, 1.)), dict(type='RandomFlip', prob=0.5),
            color_jitter, gray, _blur(1.0)]
global_2 = [_crop(224, (0.4, 1.)), dict(type='RandomFlip', prob=0.5),
            color_jitter, gray, _blur(0.1),
            dict(type='Solarize', thr=128, prob=0.2)]
local = [_crop(96, (0.05, 0.4)), dict(type='RandomFlip', prob=0.5),
         color_jitter, gray, _blur(0.5)]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1, num_local],
         transforms=[global_1, global_2, local]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmpretrain.ImageNet',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))

# lr 5e-4 per 256 images, written for the 512 of 8 x 64 (--auto-scale-lr
# rescales it for another batch)
optim_wrapper = dict(
    type='DINOAmpOptimWrapper',
    constructor='DINOOptimWrapperConstructor',
    loss_scale='dynamic',
    per_param_clip=3.0,
    freeze_last_layer=1,
    optimizer=dict(type='AdamW', lr=5e-4 * 512 / 256, weight_decay=0.04,
                   betas=(0.9, 0.999)),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       flat_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 10, eta_min=1e-6,
         by_epoch=True, begin=10, end=max_epochs,
         convert_to_iter_based=True),
    # 0.04 -> 0.4; groups created with weight decay 0 stay at 0
    dict(type='mmpretrain.CosineAnnealingWeightDecay', eta_min=0.4,
         T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(base_batch_size=512)
