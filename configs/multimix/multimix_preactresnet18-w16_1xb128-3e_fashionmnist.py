# MultiMix on Fashion-MNIST, extending the AlignMixup issue's comparison (same
# network, data, schedule, seeds: configs/alignmixup/_base_/...). Each batch
# (§5.4.1): with probability 1/2 input mixup (alpha_in = 2, spec B8-3), else
# MultiMix: n = 1000 convex combinations of the whole batch (m = b = 128),
# lambda_k ~ Dir(alpha_k), alpha_k ~ U[0.5, 2], mixed at the logits of the
# linear head (equal to mixing the pooled embeddings), soft CE over the n.
_base_ = '../alignmixup/_base_/preactresnet18-w16_1xb128-3e_fashionmnist.py'

model = dict(
    mix_modes=[
        dict(level='input', augment=dict(type='Mixup', alpha=2.0)),
        dict(
            level='logits',
            augment=dict(type='MultiMix', n=1000, alpha_range=(0.5, 2.0))),
    ],
    mix_probs=[0.5, 0.5])
