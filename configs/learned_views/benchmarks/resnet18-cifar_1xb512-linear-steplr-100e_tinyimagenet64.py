# TinyImageNet (64 px) linear probe of a learned-views (or baseline) SimCLR
# CIFAR ResNet-18 (spec assimilating_views.md 7, A22; Tables 3 and 8): the
# frozen 512-d backbone and the SupContrast recipe of
# _base_/supcon_linear-steplr-100e.py (SGD lr 1.0 at batch 512, x0.2 at
# 60 / 75 / 90, 100 epochs, best top-1 reported; top-5 as Table 8);
# RandomResizedCrop(64, area 0.2-1) + flip for training, the plain 64 px
# validation image, normalised as in pretraining
# (configs/learned_views/_base_/tinyimagenet64_supcon.py). 200 classes:
# 100,000 training and 10,000 validation images.
# Data as distributed: data/tiny-imagenet-200/train/<wnid>/images/*.JPEG
# (labels: the sorted wnid folders, as mmpretrain's CustomDataset reads
# them) and val/images/*.JPEG with val/val_annotations.txt, converted once
# to meta/val.txt (`<file> <label>` lines, same label order) by the snippet
# in configs/learned_views/README.md.
# The checkpoint: the backbone of a pretraining run, exported with
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_1000.pth work_dirs/<run>/backbone.pth \
#       --arch resnet
# another run with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# The default is the A2 + W-search SimCLR run.
_base_ = './_base_/supcon_linear-steplr-100e.py'

checkpoint = ('work_dirs/a2-wsearch_simclr_resnet18-cifar_4xb128-coslr-'
              '1000e_tinyimagenet64/backbone.pth')
num_classes = 200
data_root = 'data/tiny-imagenet-200'
input_size = 64

# the pretraining normalisation (BGR files -> RGB)
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[122.4, 114.24, 101.49],
    std=[70.635, 68.595, 71.91],
    to_rgb=True)
model = dict(
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(num_classes=num_classes, in_channels=512))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=input_size,
         crop_ratio_range=(0.2, 1.), backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
# the labelled splits with the test pipeline (the k-NN bank and queries)
train_set = dict(type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=test_pipeline)
test_set = dict(type='CustomDataset', data_root=data_root,
                data_prefix='val/images', ann_file='meta/val.txt',
                pipeline=test_pipeline)

train_dataloader = dict(
    batch_size={{_base_.batch_size}},
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(train_set, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=512,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=test_set)
test_dataloader = val_dataloader
