# Semi-supervised fine-tuning of a CLIM ResNet-50 on a labelled subset of
# ImageNet (spec §5.2, A18): all layers trained, SGD momentum 0.9, wd 0,
# lr 1e-4 for the backbone and 10 for the new fc layer (lr_mult 1e5 on
# `head`), x0.1 at epochs 20 and 40, 60 epochs, 256 images a step (8 GPUs x
# 32); RandomResizedCrop 224 (scale (0.08, 1)) + flip, evaluated with Resize
# 256 + CenterCrop 224 on the full validation set. The subset (`ann_file`)
# is set by the 1% / 10% configs.
_base_ = ('mmpretrain::mocov2/benchmarks/'
          'resnet50_8xb32-linear-steplr-100e_in1k.py')
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

checkpoint = ('work_dirs/clim_mocov2_resnet50_16xb32-coslr-1200e_in1k/'
              'epoch_1200.pth')
model = dict(
    backbone=dict(
        frozen_stages=-1,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')))

max_epochs = 60
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=0.),
    # mmengine: a parameter whose name contains `head` gets lr x lr_mult
    # (1e-4 x 1e5 = 10)
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=1e5)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[20, 40], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=256)
