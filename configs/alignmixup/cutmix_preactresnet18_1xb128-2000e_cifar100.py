# CutMix [Yun et al. 2019]: PreActResNet-18 on CIFAR-100. mmpretrain's CutMix
# with alpha = 1 on the input images at every step; the label weight is the
# pasted area after clipping (correct_lam=True).
#
# Targets thesis Table 3.1, CutMix row, column C100 R-18: top-1 error 19.37%.
# The CutMix paper's CIFAR recipe applies it to half of the batches; for that
# use mix_modes=[dict(level='none'), <this mode>] with mix_probs=[0.5, 0.5].
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
    mix_modes=[dict(level='input', augment=dict(type='CutMix', alpha=1.0))])
