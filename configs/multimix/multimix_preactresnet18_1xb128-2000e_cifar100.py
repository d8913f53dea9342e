# MultiMix: PreActResNet-18 on CIFAR-100.
#
# Targets thesis Table 5.2, MultiMix row, column C100 R-18: top-1 accuracy
# 81.82% (Table 5.2 is the headline target, spec B8-13).
#
# Each mini-batch (thesis §5.4.1, spec B3.3, B8-4): with probability 1/2 input
# mixup (alpha_in = 2.0, inherited from AlignMixup: unverified, spec B8-3),
# otherwise MultiMix at the deepest layer: the mixed examples are built at the
# logits of the linear head, which equals mixing the head's input (the pooled
# embedding; the columns of Lambda sum to one), with soft CE over the n mixed
# examples only. n = 1000, m = b (the whole batch), lambda_k ~ Dir(alpha_k)
# with alpha_k ~ U[0.5, 2] per interpolation vector (B8-1, B8-2). Seed: the
# shared runtime base (the thesis uses AlignMixup's seed).
#
# Recipe (schedule base): SGD lr 0.1, momentum 0.9, wd 1e-4, 2000 epochs, x0.1
# every 500 epochs, batch 128 on one GPU (spec B4: follows the AlignMixup
# settings).
_base_ = [
    '../alignmixup/_base_/models/preactresnet18.py',
    '../alignmixup/_base_/datasets/cifar100_bs128.py',
    '../alignmixup/_base_/schedules/cifar_bs128-2000e.py',
    '../alignmixup/_base_/default_runtime.py',
]

model = dict(
    head=dict(num_classes=100),
    mix_modes=[
        dict(level='input', augment=dict(type='Mixup', alpha=2.0)),
        dict(
            level='logits',
            augment=dict(type='MultiMix', n=1000, alpha_range=(0.5, 2.0))),
    ],
    mix_probs=[0.5, 0.5])
