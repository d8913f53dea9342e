# WideResNet 16-8 of the official AlignMixup CIFAR code (spec C-U1) in the
# MixupClassifier wrapper. The 'feature' level mixes the backbone output
# after the final BN-ReLU: 512x8x8 at 32x32 (r = 64, not the thesis's 4x4;
# spec A8-6). Embedding = global average pooling (512-d).
# num_classes defaults to CIFAR-10; CIFAR-100 configs override it.
model = dict(
    type='MixupClassifier',
    backbone=dict(type='WideResNet', depth=16, widen_factor=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0, use_soft=True),
        topk=(1, )),
    mix_modes=[dict(level='none')])
