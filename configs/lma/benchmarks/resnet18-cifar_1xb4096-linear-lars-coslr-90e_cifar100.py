# CIFAR-100 linear probe of an LMA (or alpha = 0 baseline) CIFAR ResNet-18
# (spec lma.md 4.1, A20; Table 1): the frozen 512-d backbone, LARS lr 1.6
# at batch 4096 (base 0.1), momentum 0.9, weight decay 0, cosine over 90
# epochs (_base_/linear-lars-coslr-90e.py). The paper gives no probe
# augmentation: the spec's [REC] CIFAR choice, RandomCrop(32, padding 4) +
# flip for training and the plain 32 px test image, normalised as in
# pretraining (configs/lma/_base_/cifar100_lma.py). Top-1 on the 10,000
# test images.
# The checkpoint: the backbone of a pretraining run, exported with
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_800.pth work_dirs/<run>/backbone.pth \
#       --arch resnet
# (the online network: SimSiam's encoder, MoCo's query encoder); another
# run with --cfg-options model.backbone.init_cfg.checkpoint=PATH. The
# default is the SimSiam + LMA run.
_base_ = './_base_/linear-lars-coslr-90e.py'

checkpoint = ('work_dirs/lma_simsiam_resnet18-cifar_1xb512-coslr-800e_'
              'cifar100/backbone.pth')
num_classes = 100
data_root = 'data/cifar100'

# the pretraining normalisation (RGB arrays)
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[129.3105, 124.1085, 112.404],
    std=[68.2125, 65.4075, 70.4055],
    to_rgb=False)
model = dict(
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(num_classes=num_classes, in_channels=512))

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]
# the labelled splits with the test pipeline (the k-NN bank and queries)
train_set = dict(type='CIFAR100', data_root=data_root, split='train',
                 pipeline=test_pipeline)
test_set = dict(type='CIFAR100', data_root=data_root, split='test',
                pipeline=test_pipeline)

train_dataloader = dict(
    batch_size=4096,  # 1 GPU
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(train_set, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1024,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=test_set)
test_dataloader = val_dataloader
