# CIFAR-100 with the CIFAR-10 base's pipeline, normalisation (the official
# AlignMixup code uses the same mean/std for both) and evaluation;
# mmpretrain's CIFAR100 dataset reads (or downloads) data/cifar100.
_base_ = './cifar10_bs128.py'

data_preprocessor = dict(num_classes=100)
train_dataloader = dict(
    dataset=dict(type='CIFAR100', data_root='data/cifar100'))
val_dataloader = dict(
    dataset=dict(type='CIFAR100', data_root='data/cifar100'))
test_dataloader = val_dataloader
