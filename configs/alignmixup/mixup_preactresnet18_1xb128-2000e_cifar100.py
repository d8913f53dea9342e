# Input mixup [Zhang et al. 2018]: PreActResNet-18 on CIFAR-100. Mixup with
# alpha = 1 (the original paper's CIFAR value) on the input images at every
# step.
#
# Targets thesis Table 3.1, Input row, column C100 R-18: top-1 error 20.21%.
#
# Same wrapper, backbone, data and 2000-epoch recipe as the AlignMixup
# configs, so only the mixing differs. The thesis does not say which
# baselines of Table 3.1 it re-ran and which it copied from other papers
# (trained with other recipes).
_base_ = [
    './_base_/models/preactresnet18.py',
    './_base_/datasets/cifar100_bs128.py',
    './_base_/schedules/cifar_bs128-2000e.py',
    './_base_/default_runtime.py',
]

model = dict(
    head=dict(num_classes=100),
    mix_modes=[dict(level='input', augment=dict(type='Mixup', alpha=1.0))])
