# AlignMixup, thesis preset (Alg. 1): WRN16-8 on CIFAR-100.
#
# Targets thesis Table 3.1, AlignMixup row, column C100 W16-8: top-1 error
# 18.67%, with the recipe of the schedule base.
#
# Each step mixes the input (Mixup), the last-stage feature maps aligned by
# optimal transport (AlignMix; the output after the final BN-ReLU, 512x8x8 (r
# = 64, not the thesis's 4x4), A8-6) or the pooled embedding e (Mixup), with
# probabilities 1/4, 1/2, 1/4: Alg. 1's uniform draw among {input, feat
# (3.12), feat' (3.13), embed}, the two feature cases being one AlignMix mode
# whose direction is drawn 50/50 (spec A3.5, A8-1). The stage-2 encoder f is
# global average pooling as in the official code, not the thesis's FC layer
# (A8-2).
#
# AlignMix settings (thesis §3.4.1, all datasets): alpha = 2 with one lambda
# per batch (spec A8-3); eps = 0.1 on raw squared distances (A8-5);
# log-domain Sinkhorn, at most 100 iterations with the official early stop,
# rows of R not renormalised (A8-4); direction (3.12) or (3.13) drawn 50/50,
# official formulation (lambda on the content of x); the plan is detached.
_base_ = [
    './_base_/models/wrn16-8.py',
    './_base_/datasets/cifar100_bs128.py',
    './_base_/schedules/cifar_bs128-2000e.py',
    './_base_/default_runtime.py',
]

model = dict(
    head=dict(num_classes=100),
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
