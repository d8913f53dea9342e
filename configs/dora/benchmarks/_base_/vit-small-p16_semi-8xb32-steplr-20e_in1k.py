# Semi-supervised fine-tuning of a DINO / DoRA ViT-S/16 teacher on a
# labelled subset of ImageNet. The thesis reports none, and DINO's
# fine-tuning recipe (its Table 11, "following SimCLRv2") is not public, so
# this is the protocol of this repo's other semi-supervised benchmarks
# (configs/interclr/benchmarks, InterCLR's Table 2 / OpenSelfSup) on the
# ViT: the whole network trained (frozen_stages=0), SGD momentum 0.9, 20
# epochs, 256 images a step (8 GPUs x 32), lr 0.01 for the backbone and
# 1.0 for the new linear classifier (lr_mult 100 on `head`), both x0.2 at
# epochs 12 and 16; the pipelines of the linear probe (RandomResizedCrop
# 224 + flip; Resize 256 bicubic + CenterCrop 224, full validation set,
# top-1 and top-5, the best epoch kept). It is not tuned for ViTs. The
# subset (`ann_file`) and the weight decay (5e-4 for 1%, 1e-4 for 10%) are
# set by the 1% / 10% configs. The checkpoint: the exported teacher, as in
# the linear config:
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_100.pth work_dirs/<run>/teacher.pth --teacher
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/<run>/teacher.pth
_base_ = '../vit-small-p16_linear-8xb128-coslr-100e_in1k.py'

max_epochs = 20
model = dict(backbone=dict(frozen_stages=0))
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = dict(batch_size=32)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    # mmengine: a parameter whose name contains `head` gets lr x lr_mult
    # (0.01 x 100 = 1.0); no ViT parameter name contains `head`
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=100.)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.2)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
auto_scale_lr = dict(base_batch_size=256)
