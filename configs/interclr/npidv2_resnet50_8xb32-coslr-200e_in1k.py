# NPIDv2 on ImageNet-1k, ResNet-50, 200 epochs, 8 GPUs x 32 images: the
# baseline of NPIDv2-InterCLR (spec interclr.md §3.6.1, §4.2, A6). No
# official code exists for it; this is NPID (Wu et al., 2018) with the
# InterCLR paper's three changes:
#   * a 2-layer MLP neck after the average pool, 2048 -> 2048 -> ReLU ->
#     128 (mmpretrain's MoCoV2Neck, OpenSelfSup's "NonLinearNeckV1"), its
#     output L2-normalised;
#   * Gaussian blur (sigma in [0.1, 2.0], p = 0.5, as SimCLR / MoCo v2);
#   * a lighter colour jitter: saturation factor in [0, 2] and hue in
#     [-0.5, 0.5] only (ColorJitter(brightness=0, contrast=0, saturation=1,
#     hue=0.5)), read literally (spec A6).
# NPID itself: one view per image; the normalised embedding against its own
# memory entry (the positive) and K = 16,384 entries drawn uniformly from
# the whole memory, InfoNCE with temperature 0.1 (MarginNCEHead, margin 0 =
# ContrastiveHead); the memory (one row per training image, random unit
# rows at the start) takes the embedding with momentum 0.5 after each step;
# mmmix.MemoryBankHook writes it after the optimizer step and keeps it in
# the checkpoints.
# Kept from NPID [spec I]: RandomResizedCrop 224 with scale (0.2, 1),
# RandomGrayscale p = 0.2, horizontal flip, SyncBN.
# Assumed (not in the paper): the colour jitter is applied to every image
# (prob=1.0, as NPID's own ColorJitter, which has no RandomApply).
# Optimiser: SGD lr 0.03, momentum 0.9, wd 1e-4, cosine over 200 epochs,
# batch 256 (mmpretrain's MoCo v2 schedule).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32_mocov2.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_coslr_200e.py',
    'mmpretrain::_base_/default_runtime.py',
    './_base_/interclr_in1k.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

model = dict(
    type='mmmix.NPID',
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        with_avg_pool=True),
    head=dict(
        type='mmmix.MarginNCEHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.1,
        margin=0.),
    memory=dict(
        type='mmmix.PseudoLabelMemory',
        length={{_base_.interclr_num_images}},
        feat_dim=128,
        momentum=0.5),
    num_negatives=16384)

# NPIDv2's view (one per image)
view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.),
        backend='pillow'),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.,
                contrast=0.,
                saturation=1.,
                hue=0.5)
        ],
        prob=1.0),
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=1, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))

custom_hooks = [dict(type='mmmix.MemoryBankHook')]

# only keeps the latest 3 checkpoints (each also holds the ~0.66 GB memory)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
# lr 0.03 is for 256 images a step (8 GPUs x 32): `--auto-scale-lr` scales
# it to the real batch
auto_scale_lr = dict(base_batch_size=256)
