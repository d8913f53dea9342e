# Manifold mixup on Fashion-MNIST: each step mixes, with alpha = 2, the
# input or the output of stage 1 or 2 of the backbone (1/3 each, the layer
# set of Verma et al. for PreActResNet).
_base_ = './_base_/preactresnet18-w16_1xb128-3e_fashionmnist.py'

mixup = dict(type='Mixup', alpha=2.0)
model = dict(
    mix_modes=[
        dict(level='input', augment=mixup),
        dict(level='feature', stage=0, augment=mixup),
        dict(level='feature', stage=1, augment=mixup),
    ])
