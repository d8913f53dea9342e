# Input mixup (alpha = 2 as in the AlignMixup experiments) on Fashion-MNIST.
_base_ = './_base_/preactresnet18-w16_1xb128-3e_fashionmnist.py'

model = dict(
    mix_modes=[dict(level='input', augment=dict(type='Mixup', alpha=2.0))])
