# Semi-supervised fine-tuning of a CLIM ResNet-50 with 10% of the ImageNet
# labels (SimCLR's fixed 10percent.txt subset), see the base for the recipe.
# Spec Table 2: CLIM 70.0 / 89.3% top-1 / top-5 (1200-epoch pretraining, the
# mean of 5 trials). data/imagenet/meta/10percent.txt lists the subset in
# mmpretrain's ImageNet annotation format (`<wnid>/<file>.JPEG <label>`
# per line, paths under data/imagenet/train): see configs/clim/README.md.
_base_ = './_base_/resnet50_8xb32-semi-steplr-60e_in1k.py'

train_dataloader = dict(dataset=dict(ann_file='meta/10percent.txt'))
