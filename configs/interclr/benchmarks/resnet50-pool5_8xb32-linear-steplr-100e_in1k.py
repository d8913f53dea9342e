# ImageNet linear evaluation of an InterCLR ResNet-50 on pool5 with MoCo's
# protocol (not the paper's: InterCLR's Table 1 uses the multi-layer probes
# of resnet50_multihead-linear-steplr-90e_in1k.py). It gives numbers that
# compare with MoCo v2's and CLIM's: frozen backbone, a linear classifier on
# the pooled 2048-d res5 features; SGD lr 30, momentum 0.9, weight decay 0,
# x0.1 at epochs 60 and 80, 100 epochs, 256 images a step (8 GPUs x 32);
# RandomResizedCrop 224 + flip, top-1 of Resize 256 + CenterCrop 224. This
# is mmpretrain's MoCo v2 linear benchmark (as
# configs/clim/benchmarks/resnet50_8xb32-linear-steplr-100e_in1k.py) pointed
# at the MoCo v2 + InterCLR run; another one:
#   --cfg-options \
#   model.backbone.init_cfg.checkpoint=work_dirs/<run>/epoch_200.pth
_base_ = ('mmpretrain::mocov2/benchmarks/'
          'resnet50_8xb32-linear-steplr-100e_in1k.py')
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

checkpoint = ('work_dirs/interclr-mocov2_resnet50_8xb32-coslr-200e_in1k/'
              'epoch_200.pth')
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
