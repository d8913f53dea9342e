# ImageNet linear evaluation of a CLIM ResNet-50 (spec §5.1, A17): frozen
# backbone (all 4 stages and BN), a linear classifier on the pooled 2048-d
# features; SGD lr 30, momentum 0.9, wd 0, x0.1 at epochs 60 and 80, 100
# epochs, 256 images a step (8 GPUs x 32); RandomResizedCrop 224 + flip,
# top-1 of Resize 256 + CenterCrop 224. This is mmpretrain's MoCo v2 linear
# benchmark with the pretrained weights pointed at a CLIM checkpoint
# (`backbone.` of the query encoder). Spec Table 1: 75.5% top-1 for the
# 1200-epoch run; Tables 6-9 and 11 for the others. Another checkpoint:
#   --cfg-options \
#   model.backbone.init_cfg.checkpoint=work_dirs/<run>/epoch_200.pth
_base_ = ('mmpretrain::mocov2/benchmarks/'
          'resnet50_8xb32-linear-steplr-100e_in1k.py')
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

checkpoint = ('work_dirs/clim_mocov2_resnet50_16xb32-coslr-1200e_in1k/'
              'epoch_1200.pth')
model = dict(
    backbone=dict(
        frozen_stages=4,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=30., momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[60, 80], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
auto_scale_lr = dict(base_batch_size=256)
