# STL-10 linear probe of an LMA (or alpha = 0 baseline) ResNet-18 (spec
# lma.md 4.1, A20; Table 1): the frozen 512-d backbone, LARS lr 1.6 at batch
# 4096 (base 0.1), momentum 0.9, weight decay 0, cosine over 90 epochs
# (_base_/linear-lars-coslr-90e.py), the classifier trained on the 5,000
# labelled training images (2 steps an epoch at the paper's batch) and
# evaluated on the 8,000 test images. The paper gives no probe
# augmentation, only the input scale of 128 px (spec A20): the 96 px images
# are upsampled as in pretraining, RandomResizedCrop(128) + flip for
# training, the whole image resized to 128 (bicubic) for testing,
# normalised as in pretraining (configs/lma/_base_/stl10_lma.py).
# Data: mmpretrain CustomDataset class folders, data/stl10/{train,test}/
# <class>/*.png; the class names of the release (airplane, bird, car, cat,
# deer, dog, horse, monkey, ship, truck) sort in its label order.
# configs/lma/README.md shows how to write them from the binary release.
# The checkpoint: the backbone of a pretraining run, exported with
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_800.pth work_dirs/<run>/backbone.pth \
#       --arch resnet
# another run with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# The default is the SimSiam + LMA run.
_base_ = './_base_/linear-lars-coslr-90e.py'

checkpoint = ('work_dirs/lma_simsiam_resnet18_1xb512-coslr-800e_stl10/'
              'backbone.pth')
num_classes = 10
data_root = 'data/stl10'
input_size = 128

# the pretraining normalisation (BGR files -> RGB)
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
model = dict(
    backbone=dict(
        type='ResNet',
        depth=18,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(num_classes=num_classes, in_channels=512))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=input_size, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=input_size, edge='short',
         backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=input_size),  # square images: a no-op
    dict(type='PackInputs'),
]
# the labelled splits with the test pipeline (the k-NN bank and queries)
train_set = dict(type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=test_pipeline)
test_set = dict(type='CustomDataset', data_root=data_root,
                data_prefix='test', pipeline=test_pipeline)

train_dataloader = dict(
    batch_size=4096,  # 1 GPU
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
