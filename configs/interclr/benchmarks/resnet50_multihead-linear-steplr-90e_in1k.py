# ImageNet multi-layer ("multi-head") linear evaluation of an InterCLR
# ResNet-50: the Goyal et al. 2019 / OpenSelfSup protocol InterCLR's Table 1
# reports (spec interclr.md §5.1, A20), not MoCo's lr-30 probe on pool5.
# The backbone is frozen (all 4 stages and BN statistics); res2, res3, res4
# and res5 are average-pooled to 6x6, 4x4, 3x3 and 2x2 (9216, 8192, 9216 and
# 8192 dimensions), each normalised by a BatchNorm without affine parameters
# and classified by its own linear layer; all four train together and the
# best layer is reported (multi_layer/best_top1). The conv1 stem of the
# paper's protocol (64 ch, pool 12) is not included: mmpretrain's ResNet
# only returns stage outputs.
# Recipe of the mmselfsup reproduction: SGD lr 0.01, momentum 0.9, nesterov,
# weight decay 1e-4 (none on norm layers), x0.1 at epochs 30, 60 and 90,
# 90 epochs, 256 images a step (8 GPUs x 32). Data as mmpretrain's linear
# probes: RandomResizedCrop 224 + flip, top-1 of Resize 256 + CenterCrop
# 224 (mmselfsup also used ColorJitter 0.4 and PCA lighting for training).
# Normalisation per channel of the pooled map (BatchNorm2d), as OpenSelfSup's
# MultiClsHead does.
# The pretrained weights: a checkpoint whose backbone keys start with
# `backbone.` (InterCLR / MoCo keep the query encoder there):
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/<run>/epoch_200.pth
_base_ = ('mmpretrain::mocov2/benchmarks/'
          'resnet50_8xb32-linear-steplr-100e_in1k.py')
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

model = dict(
    backbone=dict(
        out_indices=(0, 1, 2, 3),
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    neck=None,
    head=dict(
        _delete_=True,
        type='mmmix.MultiLayerLinearHead',
        num_classes=1000,
        in_channels=[256, 512, 1024, 2048],
        pool_sizes=[6, 4, 3, 2],
        layer_names=['res2', 'res3', 'res4', 'res5'],
        norm_per_channel=True,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
        init_cfg=dict(type='Normal', layer='Linear', std=0.01, bias=0.)))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.))
param_scheduler = [
    dict(
        type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90],
        gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=90, val_interval=1)
auto_scale_lr = dict(base_batch_size=256)

val_evaluator = dict(
    _delete_=True, type='mmmix.MultiLayerAccuracy', topk=(1, 5))
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=10, max_keep_ckpts=3,
        save_best='multi_layer/best_top1', rule='greater'))
