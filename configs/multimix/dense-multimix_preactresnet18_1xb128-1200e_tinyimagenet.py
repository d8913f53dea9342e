# Dense MultiMix: PreActResNet-18 on TinyImageNet.
#
# Targets thesis Table 5.2, Dense MultiMix row, column TI R-18: top-1 accuracy
# 68.44% (Table 5.2 is the headline target, spec B8-13).
#
# Each mini-batch (thesis §5.4.1, spec B3.3, B8-4): with probability 1/2 input
# mixup (alpha_in = 2.0, inherited from AlignMixup: unverified, spec B8-3),
# otherwise Dense MultiMix on the backbone's last feature map (the layer4
# output at 64x64 input, 512x8x8, so r = 8x8 = 64; see the note below): a
# separate Lambda per position, attention u = GAP with h = l1 o ReLU (detached,
# B8-7), renormalised columns, the linear head as a 1x1 conv, CE weighted by
# the pre-normalisation column sums, mean over positions (B8-8). n = 1000, m =
# b (the whole batch), lambda_k ~ Dir(alpha_k) with alpha_k ~ U[0.5, 2] per
# interpolation vector (B8-1, B8-2). Seed: the shared runtime base (the thesis
# uses AlignMixup's seed).
#
# Recipe (schedule base): SGD lr 0.1, momentum 0.9, wd 1e-4, 1200 epochs, x0.1
# at 600 and 900, batch 128 (spec B4: follows the PuzzleMix settings; the
# thesis ran it on 2 GPUs, here 1 x 128 so m = b = 128).
#
# NOTE (r on TinyImageNet): the thesis gives r only for CIFAR (16) and ImageNet
# (49). Spec B8-6 proposes 4x4 (avg-pooled) for TI, but DenseMultiMix has no
# target_resolution option, so the native 8x8 map (r = 64) is used. The
# CIFAR-100 resolution ablation (B4) has 8x8 below 4x4 (80.83 vs 81.88), so
# this may fall short of the target.
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
            level='dense',
            augment=dict(
                type='DenseMultiMix',
                n=1000,
                alpha_range=(0.5, 2.0),
                attention='gap',
                attention_act='l1_relu')),
    ],
    mix_probs=[0.5, 0.5])
