# mmpretrain's ResNet-50 for ImageNet in the MixupClassifier wrapper. The
# 'feature' level mixes the layer4 output, 2048x7x7 at 224x224 (r = 49); the
# embedding is its global average pooling (2048-d), as in the official code.
model = dict(
    type='MixupClassifier',
    backbone=dict(
        type='ResNet', depth=50, num_stages=4, out_indices=(3, ),
        style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0, use_soft=True),
        topk=(1, 5)),
    mix_modes=[dict(level='none')])
