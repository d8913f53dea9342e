# ImageNet-100 linear probe of an LMA (or alpha = 0 baseline) ResNet-50
# (spec lma.md 4.1, A20; Table 1, IN100 column): the frozen 2048-d
# backbone, LARS lr 1.6 at batch 4096 (8 GPUs x 512, base 0.1), momentum
# 0.9, weight decay 0, cosine over 90 epochs
# (_base_/linear-lars-coslr-90e.py); top-1 / top-5 on the 5,000 validation
# images of the 100 classes.
# Input scale: ImageNet-100 is pretrained at 96 px (Table 8), and the spec
# evaluates at the input scale of pretraining where it names one (STL-10:
# 128 px), so the probe runs at 96 px too: RandomResizedCrop(96) + flip for
# training; short edge 110 + centre crop 96 for testing (the 0.875 ratio of
# 224 / 256). For the ImageNet-1k 224 px recipe instead, use the pipelines
# of resnet50_8xb512-linear-lars-coslr-90e_in1k.py (--cfg-options on the
# transforms' scale / crop_size).
# Data: mmpretrain's ImageNet folder with two lists of the 100 CMC classes
# (`<path> <label>` lines, labels 0-99): meta/imagenet100_train.txt (the
# pretraining list, paths under train/) and meta/imagenet100_val.txt (paths
# under val/), see configs/lma/README.md.
# The checkpoint: the backbone of a pretraining run, exported with
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_200.pth work_dirs/<run>/backbone.pth \
#       --arch resnet
# another run with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# The default is the MoCo v2 + LMA run (the model of Tables 9-11).
_base_ = './_base_/linear-lars-coslr-90e.py'

checkpoint = ('work_dirs/lma_mocov2_resnet50_8xb32-coslr-200e_in100/'
              'backbone.pth')
num_classes = 100
data_root = 'data/imagenet'
input_size = 96
test_resize = 110  # input_size / 0.875

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
model = dict(
    backbone=dict(
        type='ResNet',
        depth=50,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(num_classes=num_classes, in_channels=2048))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=input_size, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=test_resize, edge='short',
         backend='pillow'),
    dict(type='CenterCrop', crop_size=input_size),
    dict(type='PackInputs'),
]
# the labelled splits with the test pipeline (the k-NN bank and queries)
train_set = dict(type='ImageNet', data_root=data_root, split='train',
                 ann_file='meta/imagenet100_train.txt',
                 pipeline=test_pipeline)
test_set = dict(type='ImageNet', data_root=data_root, split='val',
                ann_file='meta/imagenet100_val.txt', pipeline=test_pipeline)

train_dataloader = dict(
    batch_size=512,  # 8 GPUs
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(train_set, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=test_set)
test_dataloader = val_dataloader
