# Baseline of the Fashion-MNIST comparison: no mixup (same wrapper, one-hot
# targets), see _base_/preactresnet18-w16_1xb128-3e_fashionmnist.py.
_base_ = './_base_/preactresnet18-w16_1xb128-3e_fashionmnist.py'

model = dict(mix_modes=[dict(level='none')])
