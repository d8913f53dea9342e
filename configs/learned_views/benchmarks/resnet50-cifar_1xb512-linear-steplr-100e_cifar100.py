# CIFAR-100 linear probe of a learned-views (or baseline) SimCLR CIFAR
# ResNet-50 (spec assimilating_views.md 7, A22; Tables 3, 5, 11): the
# frozen 2048-d backbone and the SupContrast recipe of
# _base_/supcon_linear-steplr-100e.py (SGD lr 1.0 at batch 512, x0.2 at
# 60 / 75 / 90, 100 epochs, best top-1 reported); RandomResizedCrop(32,
# area 0.2-1) + flip for training, the plain 32 px test image, normalised
# as in pretraining (configs/learned_views/_base_/cifar100_supcon.py).
# The checkpoint: the backbone of a pretraining run, exported with
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_1200.pth work_dirs/<run>/backbone.pth \
#       --arch resnet
# another run with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# The default is the A2 + W-perturb SimCLR run.
_base_ = './_base_/supcon_linear-steplr-100e.py'

checkpoint = ('work_dirs/a2-wperturb_simclr_resnet50-cifar_4xb128-coslr-'
              '1200e_cifar100/backbone.pth')
num_classes = 100
data_root = 'data/cifar100'
input_size = 32

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[129.3105, 124.1085, 112.404],
    std=[68.2125, 65.4075, 70.4055],
    to_rgb=False)
model = dict(
    backbone=dict(
        type='ResNet_CIFAR',
        depth=50,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(num_classes=num_classes, in_channels=2048))

train_pipeline = [
    dict(type='RandomResizedCrop', scale=input_size,
         crop_ratio_range=(0.2, 1.), backend='pillow'),
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
