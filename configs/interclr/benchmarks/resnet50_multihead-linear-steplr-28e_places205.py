# Places205 multi-layer ("multi-head") linear evaluation of an InterCLR
# ResNet-50 (spec interclr.md §5.2): the frozen backbone and the four
# pooled + BatchNorm + linear probes of
# resnet50_multihead-linear-steplr-90e_in1k.py, 205 classes; SGD lr 0.01,
# momentum 0.9, nesterov, weight decay 1e-4 (none on norm layers), x0.1 at
# epochs 7, 14 and 21, 28 epochs, 256 images a step (8 GPUs x 32), as
# mmselfsup's places205 multi-head benchmark. Training crops as mmselfsup:
# Resize 256, CenterCrop 256, RandomCrop 224, flip; top-1 of Resize 256 +
# CenterCrop 224.
# Data: mmpretrain's Places205 dataset (an image folder with a list file
# `<path> <label>` per line): data/places205/{train,val}/... with
# data/places205/meta/{train,val}.txt; set other paths with --cfg-options.
# The pretrained weights (backbone keys under `backbone.`):
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/<run>/epoch_200.pth
_base_ = './resnet50_multihead-linear-steplr-90e_in1k.py'

data_preprocessor = dict(num_classes=205)
model = dict(head=dict(num_classes=205))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=256),
    dict(type='RandomCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='Places205',
        data_root='data/places205',
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='Places205',
        data_root='data/places205',
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

param_scheduler = [
    dict(
        type='MultiStepLR', by_epoch=True, milestones=[7, 14, 21],
        gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=28, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1))
