# AlignMixup on Fashion-MNIST, thesis preset (Alg. 1): each step mixes the
# input (Mixup), the last-stage feature map aligned by optimal transport
# (AlignMix, direction 3.12 or 3.13 at random) or the pooled embedding
# (Mixup), with probabilities 1/4, 1/2, 1/4; alpha = 2, eps = 0.1, at most
# 100 Sinkhorn iterations with the official early stop.
_base_ = './_base_/preactresnet18-w16_1xb128-3e_fashionmnist.py'

model = dict(
    mix_modes=[
        dict(level='input', augment=dict(type='Mixup', alpha=2.0)),
        dict(
            level='feature',
            augment=dict(
                type='AlignMix', alpha=2.0, eps=0.1, max_iter=100,
                stop_rule='official')),
        dict(level='embedding', augment=dict(type='Mixup', alpha=2.0)),
    ],
    mix_probs=[0.25, 0.5, 0.25])
