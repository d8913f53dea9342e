# MultiMix: PreActResNet-18 on TinyImageNet.
#
# Targets thesis Table 5.2, MultiMix row, column TI R-18: top-1 accuracy 67.11%
# (Table 5.2 is the headline target, spec B8-13).
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
# Recipe (schedule base): SGD lr 0.1, momentum 0.9, wd 1e-4, 1200 epochs, x0.1
# at 600 and 900, batch 128 (spec B4: follows the PuzzleMix settings; the
# thesis ran it on 2 GPUs, here 1 x 128 so m = b = 128).
_base_ = [
    '../alignmixup/_base_/models/preactresnet18.py',
    '../alignmixup/_base_/datasets/tinyimagenet_bs128.py',
    '../alignmixup/_base_/schedules/tinyimagenet_bs128-1200e.py',
    '../alignmixup/_base_/default_runtime.py',
]

model = dict(
    head=dict(num_classes=200),
    mix_modes=[
        dict(level='input', augment=dict(type='Mixup', alpha=2.0)),
        dict(
            level='logits',
            augment=dict(type='MultiMix', n=1000, alpha_range=(0.5, 2.0))),
    ],
    mix_probs=[0.5, 0.5])
