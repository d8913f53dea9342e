# Semi-supervised fine-tuning of an InterCLR ResNet-50 on a labelled subset
# of ImageNet (spec interclr.md §5.5; the protocol of InterCLR's Table 2):
# the whole network trained (frozen_stages=-1), SGD momentum 0.9, 20
# epochs, 256 images a step (8 GPUs x 32), lr 0.01 for the backbone and 1.0
# for the new linear classifier (lr_mult 100 on `head`), both x0.2 at
# epochs 12 and 16; RandomResizedCrop 224 (scale (0.08, 1)) + flip,
# evaluated with Resize 256 + CenterCrop 224 on the full validation set,
# top-1 and top-5 (the paper reports top-5). The subset (`ann_file`) and
# the weight decay (5e-4 for 1%, 1e-4 for 10%) are set by the 1% / 10%
# configs.
# The pretrained weights: a checkpoint whose backbone keys start with
# `backbone.` (the query / online encoder of every InterCLR model); by
# default the MoCo v2 + InterCLR run. Another one: --cfg-options
#   model.backbone.init_cfg.checkpoint=work_dirs/<run>/epoch_200.pth
_base_ = ('mmpretrain::mocov2/benchmarks/'
          'resnet50_8xb32-linear-steplr-100e_in1k.py')
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

checkpoint = ('work_dirs/interclr-mocov2_resnet50_8xb32-coslr-200e_in1k/'
              'epoch_200.pth')
model = dict(
    backbone=dict(
        frozen_stages=-1,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')))

max_epochs = 20
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    # mmengine: a parameter whose name contains `head` gets lr x lr_mult
    # (0.01 x 100 = 1.0); no backbone parameter name contains `head`
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=100.)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.2)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=256)
