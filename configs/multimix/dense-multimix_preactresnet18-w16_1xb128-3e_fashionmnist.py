# Dense MultiMix on Fashion-MNIST (same comparison as multimix_...): with
# probability 1/2 input mixup (alpha_in = 2), else Dense MultiMix on the
# 128x4x4 last-stage map (r = 16 positions, as on CIFAR): n = 1000
# interpolations per position, attention u = GAP with h = l1 o ReLU
# (detached, spec B8-7), column renormalisation, the linear head as a 1x1
# conv, CE weighted by the pre-normalisation column sums, mean over
# positions (B8-8).
_base_ = '../alignmixup/_base_/preactresnet18-w16_1xb128-3e_fashionmnist.py'

model = dict(
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
