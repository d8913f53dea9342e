# Semi-supervised fine-tuning of an InterCLR ResNet-50 with 10% of the
# ImageNet labels (SimCLR's fixed 10percent.txt subset), weight
# decay 1e-4 (spec interclr.md §5.5); see the base for the recipe.
# data/imagenet/meta/10percent.txt lists the subset in mmpretrain's
# ImageNet annotation format (`<wnid>/<file>.JPEG <label>` per line, paths
# under data/imagenet/train): see configs/interclr/README.md.
_base_ = './_base_/resnet50_8xb32-semi-20e_in1k.py'

train_dataloader = dict(dataset=dict(ann_file='meta/10percent.txt'))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
