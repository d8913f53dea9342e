# DINO on Fashion-MNIST (CPU): a tiny ViT (48-d, 3 layers, 6 heads, patch 4:
# 7 x 7 patches on 28 px) on the first 20,000 training images, 2 global crops
# at 28 px and 4 local crops at 16 px, DINO's optimiser mechanics (AdamW,
# warm-up + cosine, weight decay 0.04 -> 0.4, per-tensor clipping 3.0, last
# layer frozen in epoch 0) at a short schedule; weighted k-NN top-1 of the
# teacher's [CLS] feature (bank: all 60,000 training images, queries: the
# test set). The DoRA* comparison (configs/dora) inherits everything here.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../clim/_base_/fashionmnist-20k_ssl.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

max_epochs = 3
batch_size = 128
num_local = 4
out_channels = 1024
embed_dims = 48

model = dict(
    type='DINO',
    num_global_views=2,
    # teacher alpha 0.996 -> 1, as in DINO (a faster 0.99 teacher let the
    # teacher's entropy climb after the first epoch)
    base_momentum=0.004,
    end_momentum=0.,
    data_preprocessor={{_base_.fmnist_data_preprocessor}},
    backbone=dict(
        type='mmpretrain.VisionTransformer',
        arch=dict(embed_dims=embed_dims, num_layers=3, num_heads=6,
                  feedforward_channels=4 * embed_dims),
        in_channels=1,
        img_size=28,
        patch_size=4,
        drop_path_rate=0.1,
        out_type='cls_token',
        final_norm=True),
    head=dict(
        type='DINOHead',
        in_channels=embed_dims,
        out_channels=out_channels,
        hidden_channels=256,
        bottleneck_channels=64,
        norm_last_layer=True),
    loss=dict(
        type='DINOLoss',
        out_channels=out_channels,
        student_temp=0.1,
        teacher_temp=0.04,
        warmup_teacher_temp=0.04,
        center_momentum=0.9))


def _view(size, scale):
    return [
        dict(type='RandomResizedCrop', scale=size, crop_ratio_range=scale,
             backend='cv2'),
        dict(type='RandomFlip', prob=0.5),
        # mmcv's contrast / saturation / hue need 3 channels: brightness only
        dict(type='RandomApply',
             transforms=[dict(type='ColorJitter', brightness=0.4,
                              backend='cv2')],
             prob=0.8),
    ]


train_pipeline = [
    dict(type='MultiView', num_views=[2, num_local],
         transforms=[_view(28, (0.4, 1.)), _view(16, (0.1, 0.4))]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmmix.FashionMNIST',
        data_root={{_base_.fmnist_data_root}},
        split='train',
        indices=20000,
        pipeline=train_pipeline))

optim_wrapper = dict(
    type='DINOOptimWrapper',
    constructor='DINOOptimWrapperConstructor',
    per_param_clip=3.0,
    freeze_last_layer=1,
    # DINO's rule: 5e-4 x batch / 256 (1e-3 drove the teacher towards
    # uniform outputs after the warm-up)
    optimizer=dict(type='AdamW', lr=5e-4 * batch_size / 256,
                   weight_decay=0.04),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       flat_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=1e-6,
         by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
    dict(type='mmpretrain.CosineAnnealingWeightDecay', eta_min=0.4,
         T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)


def _loader(split):
    return dict(
        batch_size=1000,
        num_workers=1,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='mmmix.FashionMNIST',
            data_root='/usr/share/datasets/fashion-mnist',
            split=split,
            pipeline=[dict(type='PackInputs')]))


custom_hooks = [
    dict(type='mmmix.KNNEvalHook',
         bank_dataloader=_loader('train'),
         query_dataloader=_loader('test'),
         interval=max_epochs,
         num_neighbors=(20, 200),
         topk=(1, 5),
         temperature=0.07)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=False)
