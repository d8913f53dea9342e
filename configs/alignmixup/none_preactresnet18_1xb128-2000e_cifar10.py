# Baseline without mixup: PreActResNet-18 on CIFAR-10 (one-hot targets).
#
# Targets thesis Table 3.1, Baseline row, column C10 R-18: top-1 error 5.19%.
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
    mix_modes=[dict(level='none')])
