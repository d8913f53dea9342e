# Semi-supervised fine-tuning of a CLIM ResNet-50 with 1% of the ImageNet
# labels (SimCLR's fixed 1percent.txt subset), see the base for the recipe.
# Spec Table 2: CLIM 59.3 / 81.6% top-1 / top-5 (1200-epoch pretraining, the
# mean of 5 trials). data/imagenet/meta/1percent.txt lists the subset in
# mmpretrain's ImageNet annotation format (`<wnid>/<file>.JPEG <label>`
# per line, paths under data/imagenet/train): see configs/clim/README.md.
_base_ = './_base_/resnet50_8xb32-semi-steplr-60e_in1k.py'

train_dataloader = dict(dataset=dict(ann_file='meta/1percent.txt'))
