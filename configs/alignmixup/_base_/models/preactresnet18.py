# PreActResNet-18 of the official AlignMixup CIFAR / TinyImageNet code (spec
# C-U1) in the MixupClassifier wrapper. The feature map the 'feature' level
# mixes is the output of layer4: 512x4x4 at 32x32 (r = 16), 512x8x8 at 64x64
# (r = 64). The stage-2 encoder f is global average pooling (official code;
# the thesis's FC f is not used, spec A8-2), so the embedding is 512-d.
# num_classes defaults to CIFAR-10; configs for other datasets override it.
model = dict(
    type='MixupClassifier',
    backbone=dict(type='PreActResNet', depth=18, base_channels=64),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0, use_soft=True),
        topk=(1, )),
    mix_modes=[dict(level='none')])
