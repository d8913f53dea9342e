# CIFAR-10 linear probe of a learned-views (or baseline) SimCLR CIFAR
# ResNet-18, the E-SSL code's protocol (spec assimilating_views.md 7 [P] /
# [C]; Tables 3, 5-7, 12): the frozen 512-d backbone (BN statistics in
# eval mode) and Linear(512, 10) on its average-pooled features; SGD lr 30,
# momentum 0.9, weight decay 0, 256 images a step, cosine to 0 per
# iteration over 100 epochs, no warm-up; RandomResizedCrop(32, bicubic) +
# flip for training, Resize(36, bicubic) + CenterCrop(32) for testing,
# normalised as in pretraining (configs/learned_views/_base_/
# cifar10_essl.py). Accuracy every 10 epochs; the paper reports the
# final-epoch top-1, mean +- std over 5 seeds:
#   for s in 0 1 2 3 4; do python tools/train.py THIS_CONFIG \
#       --work-dir work_dirs/<run>_linear_seed$s \
#       --cfg-options randomness.seed=$s; done
# The checkpoint: the backbone of a pretraining run, exported with
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_800.pth work_dirs/<run>/backbone.pth \
#       --arch resnet
# another run with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# The default is the A2 + W-search SimCLR run.
_base_ = '../_base_/ssl_runtime.py'

checkpoint = ('work_dirs/a2-wsearch_simclr_resnet18-cifar_1xb128-coslr-'
              '800e_cifar10/backbone.pth')
num_classes = 10
data_root = 'data/cifar10'
max_epochs = 100
batch_size = 256  # 1 GPU

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

train_pipeline = [
    dict(type='RandomResizedCrop', scale=32, interpolation='bicubic',
         backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='ResizeEdge', scale=36, edge='short', interpolation='bicubic',
         backend='pillow'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs'),
]
# the labelled splits with the test pipeline (the k-NN bank and queries)
train_set = dict(type='CIFAR10', data_root=data_root, split='train',
                 pipeline=test_pipeline)
test_set = dict(type='CIFAR10', data_root=data_root, split='test',
                pipeline=test_pipeline)

train_dataloader = dict(
    batch_size=batch_size,
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
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=30., momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.,
         by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=batch_size)

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
