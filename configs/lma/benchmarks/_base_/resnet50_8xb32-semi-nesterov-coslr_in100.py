# Semi-supervised fine-tuning of an LMA (or alpha = 0 baseline) ResNet-50
# on a labelled subset of ImageNet-100 (spec lma.md 4.5, Table 10: the
# whole network fine-tuned on 1% or 10% of the labelled training images,
# top-1 / top-5 on the 5,000 validation images). The paper only says
# "similarly to (Chen et al. 2020a)": SimCLR's fine-tuning recipe (spec
# 4.5 [EXT]) is Nesterov SGD, momentum 0.9, lr 0.05 x batch / 256, no
# weight decay, no warm-up, crop + flip only, 60 epochs for 1% and 30 for
# 10% (set by the 1% / 10% configs, with the cosine decay of SimCLR's
# code). SimCLR's batch of 4096 is larger than the 1% subset of
# ImageNet-100 (about 1,270 images), so these configs keep the lr rule at
# 256 images a step (8 GPUs x 32): lr 0.05; --auto-scale-lr rescales it.
# Data and input scale as the linear probe
# (../resnet50_8xb512-linear-lars-coslr-90e_in100.py: 96 px, the
# pretraining scale). The subsets (spec A22: not published) are
# class-balanced random draws with a fixed seed from
# meta/imagenet100_train.txt, written by the snippet in
# configs/lma/README.md to meta/imagenet100_{1,10}percent.txt.
# The checkpoint: the exported backbone, as in the linear probe:
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_200.pth work_dirs/<run>/backbone.pth \
#       --arch resnet
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/<run>/backbone.pth
_base_ = '../resnet50_8xb512-linear-lars-coslr-90e_in100.py'

batch_size = 256  # 8 GPUs x 32
model = dict(backbone=dict(frozen_stages=-1, norm_eval=False))
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = dict(batch_size=32)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05 * batch_size / 256, momentum=0.9,
                   nesterov=True, weight_decay=0.))
auto_scale_lr = dict(base_batch_size=batch_size)
