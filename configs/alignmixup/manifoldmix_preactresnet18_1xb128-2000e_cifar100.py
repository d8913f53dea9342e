# Manifold mixup [Verma et al. 2019]: PreActResNet-18 on CIFAR-100. Each step
# mixes, with alpha = 2, the input or the output of stage 0 (layer1) or stage
# 1 (layer2) of the backbone, 1/3 each (Verma et al.'s layer set for
# PreActResNet).
#
# Targets thesis Table 3.1, Manifold row, column C100 R-18: top-1 error
# 19.80%.
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

mixup = dict(type='Mixup', alpha=2.0)
model = dict(
    head=dict(num_classes=100),
    mix_modes=[
        dict(level='input', augment=mixup),
        dict(level='feature', stage=0, augment=mixup),
        dict(level='feature', stage=1, augment=mixup),
    ],
    mix_probs=[1 / 3, 1 / 3, 1 / 3])
