# Multi-similarity with the thesis's constants (PML alpha = thesis beta = 18,
# PML beta = thesis gamma = 75, base = m = 0.77; spec 3.2), no miner.
_base_ = './_base_/preactresnet18-w16_1xb100-2e_fashionmnist-zeroshot.py'

model = dict(
    loss=dict(
        loss=dict(
            _delete_=True,
            type='MultiSimilarityLoss',
            alpha=18,
            beta=75,
            base=0.77),
    ),
    mix_modes=[dict(level='none')])
