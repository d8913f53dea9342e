# ImageNet-1k linear probe of an LMA (or alpha = 0 baseline) ResNet-50
# (spec lma.md 4.1; Tables 2 and 3): the frozen 2048-d backbone, LARS lr
# 1.6 at batch 4096 (8 GPUs x 512, base 0.1), momentum 0.9, weight decay 0,
# cosine over 90 epochs (_base_/linear-lars-coslr-90e.py), the spec's [REC]
# ImageNet data: RandomResizedCrop(224) + flip for training, short edge 256
# + centre crop 224 for testing; top-1 / top-5 on the 50,000 validation
# images. This is the recipe of mmpretrain's SimSiam / BYOL linear
# benchmark, so the SimSiam numbers compare with its model zoo.
# The checkpoint: the backbone of a pretraining run, exported with
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_100.pth work_dirs/<run>/backbone.pth \
#       --arch resnet
# another run with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# The default is the SimSiam + LMA run.
_base_ = './_base_/linear-lars-coslr-90e.py'

checkpoint = ('work_dirs/lma_simsiam_resnet50_8xb64-coslr-100e_in1k/'
              'backbone.pth')
num_classes = 1000
data_root = 'data/imagenet'
input_size = 224

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
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=input_size),
    dict(type='PackInputs'),
]
# the labelled splits with the test pipeline (the k-NN bank and queries)
train_set = dict(type='ImageNet', data_root=data_root, split='train',
                 pipeline=test_pipeline)
test_set = dict(type='ImageNet', data_root=data_root, split='val',
                pipeline=test_pipeline)

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
