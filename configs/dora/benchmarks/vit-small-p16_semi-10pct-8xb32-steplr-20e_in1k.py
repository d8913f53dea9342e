# Semi-supervised fine-tuning of a DINO / DoRA ViT-S/16 teacher with 10% of
# the ImageNet labels (SimCLR's fixed 10percent.txt subset), weight decay
# 1e-4 (as InterCLR's 10% protocol); see the base for the recipe.
# data/imagenet/meta/10percent.txt lists the subset in mmpretrain's
# ImageNet annotation format (`<wnid>/<file>.JPEG <label>` per line, paths
# under data/imagenet/train): see configs/interclr/README.md.
_base_ = './_base_/vit-small-p16_semi-8xb32-steplr-20e_in1k.py'

train_dataloader = dict(dataset=dict(ann_file='meta/10percent.txt'))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
