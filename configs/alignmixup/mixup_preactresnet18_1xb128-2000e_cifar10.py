# Input mixup [Zhang et al. 2018]: PreActResNet-18 on CIFAR-10. Mixup with
# alpha = 1 (the original paper's CIFAR value) on the input images at every
# step.
#
# Targets thesis Table 3.1, Input row, column C10 R-18: top-1 error 4.03%.
#
# Same wrapper, backbone, data and 2000-epoch recipe as the AlignMixup
# configs, so only the mixing differs. The thesis does not say which
# baselines of Table 3.1 it re-ran and which it copied from other papers
# (trained with other recipes).
_base_ = [
    './_base_/models/preactresnet18.py',
    './_base_/datasets/cifar10_bs128.py',
    './_base_/schedules/cifar_bs128-2000e.py',
    './_base_/default_runtime.py',
]

model = dict(
    mix_modes=[dict(level='input', augment=dict(type='Mixup', alpha=1.0))])
