# What the Walking Tours DoRA configs share (the released code's settings,
# spec section 4 "[R] default"): ViT-S/16 student (drop path 0.1) and EMA
# teacher (0.996 -> 1), DINO head with 65,536 prototypes (last layer not
# normalised), 3 objects from 3 random heads of the last block, refined by
# Sinkhorn-Knopp (eps 0.05, 30 iterations) and tracked over 8 frames 1 s
# apart; one 300 px region per clip, one 224 px global view (shared crop and
# flip over the frames, colour jitter / grey / blur drawn per frame) and 6
# local 112 px crops with their own box per frame; AdamW 5e-4 x 128/256 with
# 10 warm-up epochs and cosine to 1e-6 (the thesis; the README's commands
# use 1e-5: --cfg-options param_scheduler.1.eta_min=1e-5), weight decay
# 0.04 -> 0.4, per-tensor clipping 3.0, last layer frozen in epoch 0, fp16
# (the tracker runs in float32). Names start with dora_ so that they never
# clash with the configs that inherit this file.
dora_max_epochs = 100
dora_out_channels = 65536
dora_model = dict(
    type='DoRA',
    num_global_views=1,
    num_objects=3,
    use_sk=True,
    sk_eps=0.05,
    sk_iters=30,
    normalize_patches=True,
    plan_scale='n',
    mask_mode='binary_sample_mean',
    loss_mode='clean',
    base_momentum=0.004,
    end_momentum=0.,
    data_preprocessor=dict(
        type='VideoSelfSupDataPreprocessor',
        # frames are decoded as RGB
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=False),
    backbone=dict(
        type='mmpretrain.VisionTransformer',
        arch='deit-small',  # 384-d, 12 layers, 6 heads (not arch='small')
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        out_type='raw',
        final_norm=True),
    head=dict(
        type='DINOHead',
        in_channels=384,
        out_channels=dora_out_channels,
        hidden_channels=2048,
        bottleneck_channels=256,
        norm_last_layer=False),
    loss=dict(
        type='DINOLoss',
        out_channels=dora_out_channels,
        student_temp=0.1,
        teacher_temp=0.04,  # the code's 0.04 -> 0.04 warm-up: a constant
        warmup_teacher_temp=0.04,
        warmup_teacher_temp_epochs=30,
        center_momentum=0.9))

_jitter = dict(
    type='RandomApply',
    transforms=[
        dict(type='ColorJitter', brightness=0.4, contrast=0.4,
             saturation=0.2, hue=0.1)
    ],
    prob=0.8)
# RGB frames: luma weights in R, G, B order
_gray = dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.2989, 0.587, 0.114))


def _blur(prob):
    return dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
                magnitude_std='inf', prob=prob)


def _clip_pipeline(num_global, num_local=6, region=300, size=224, local=112):
    global_view = [
        dict(type='ClipRandomResizedCrop', scale=size,
             crop_ratio_range=(0.4, 1.), interpolation='bilinear'),
        dict(type='ClipRandomFlip', prob=0.5),
        dict(type='FrameWise', consistent=False,
             transforms=[_jitter, _gray, _blur(0.1)]),
    ]
    local_view = [
        dict(type='FrameWise', consistent=False, transforms=[
            dict(type='RandomResizedCrop', scale=local,
                 crop_ratio_range=(0.05, 0.4), interpolation='bicubic',
                 backend='pillow'),
            _jitter, _gray, _blur(0.5)]),
    ]
    return [
        dict(type='ClipRandomResizedCrop', scale=region,
             crop_ratio_range=(0.2, 1.), interpolation='bilinear'),
        dict(type='ClipMultiView', num_views=[num_global, num_local],
             transforms=[global_view, local_view]),
        dict(type='PackClipInputs'),
    ]


# the code: one global view; the thesis (Eq. 6.8): two
dora_clip_pipeline = _clip_pipeline(1)
dora_clip_pipeline_2view = _clip_pipeline(2)
dora_optim_wrapper = dict(
    type='DINOAmpOptimWrapper',
    constructor='DINOOptimWrapperConstructor',
    loss_scale='dynamic',
    per_param_clip=3.0,
    freeze_last_layer=1,
    optimizer=dict(type='AdamW', lr=5e-4 * 128 / 256, weight_decay=0.04,
                   betas=(0.9, 0.999)),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       flat_decay_mult=0.))
dora_param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=dora_max_epochs - 10, eta_min=1e-6,
         by_epoch=True, begin=10, end=dora_max_epochs,
         convert_to_iter_based=True),
    dict(type='mmpretrain.CosineAnnealingWeightDecay', eta_min=0.4,
         T_max=dora_max_epochs, by_epoch=True, begin=0, end=dora_max_epochs,
         convert_to_iter_based=True),
]
