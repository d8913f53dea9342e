# Shared part of the Fashion-MNIST mixup comparison (runs on a 2-core CPU):
# PreActResNet-18 at base width 16 (stages 16/32/64/128, 1 grey channel),
# 28x28 inputs (the aligned feature map of the last stage is 128x4x4, r = 16
# as in the thesis's CIFAR setting), SGD 0.1 / 0.9 / 1e-4 (thesis), batch 128,
# 3 epochs with per-iteration cosine decay, Accuracy + ECE/OE on the 10k test
# images. The method configs beside this file set `model.mix_modes`.
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

width = 16
max_epochs = 3
data_root = '/usr/share/datasets/fashion-mnist'

model = dict(
    type='MixupClassifier',
    backbone=dict(
        type='PreActResNet', depth=18, in_channels=1, base_channels=width),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=8 * width,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0, use_soft=True),
        topk=(1, )),
    mix_modes=[dict(level='none')])

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=10,
    mean=[72.94],
    std=[90.02],
    to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='FashionMNIST',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=500,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='FashionMNIST',
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='CalibrationError', num_bins=15),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1, max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
