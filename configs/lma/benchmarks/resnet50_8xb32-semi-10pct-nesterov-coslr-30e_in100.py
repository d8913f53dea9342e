# Semi-supervised fine-tuning of an LMA (or alpha = 0 baseline) ResNet-50
# with 10% of the ImageNet-100 labels (spec lma.md 4.5, Table 10, A22):
# the class-balanced subset meta/imagenet100_10percent.txt (seed 0, see
# configs/lma/README.md), 30 epochs of cosine decay (SimCLR's 10%
# schedule); see the base for the recipe.
_base_ = './_base_/resnet50_8xb32-semi-nesterov-coslr_in100.py'

max_epochs = 30
train_dataloader = dict(
    dataset=dict(ann_file='meta/imagenet100_10percent.txt'))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.,
         by_epoch=True, begin=0, end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
