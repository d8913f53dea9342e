# Semi-supervised fine-tuning of a DINO / DoRA ViT-S/16 teacher with 1% of
# the ImageNet labels (SimCLR's fixed 1percent.txt subset), weight decay
# 5e-4 (as InterCLR's 1% protocol); see the base for the recipe.
# data/imagenet/meta/1percent.txt lists the subset in mmpretrain's ImageNet
# annotation format (`<wnid>/<file>.JPEG <label>` per line, paths under
# data/imagenet/train): see configs/interclr/README.md.
_base_ = './_base_/vit-small-p16_semi-8xb32-steplr-20e_in1k.py'

train_dataloader = dict(dataset=dict(ann_file='meta/1percent.txt'))
optim_wrapper = dict(optimizer=dict(weight_decay=5e-4))
