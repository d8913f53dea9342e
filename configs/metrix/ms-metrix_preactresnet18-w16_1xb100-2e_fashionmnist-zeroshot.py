# Multi-similarity with the thesis's constants (PML alpha = thesis beta = 18,
# PML beta = thesis gamma = 75, base = m = 0.77; spec 3.2), no miner.
# + Metrix at the feature level: w = 0.4, lam ~ Beta(2, 2) per batch,
# pos-neg or anc-neg pairs drawn per step, all pairs (thesis 4.4.2).
_base_ = './_base_/preactresnet18-w16_1xb100-2e_fashionmnist-zeroshot.py'

model = dict(
    loss=dict(
        loss=dict(
            _delete_=True,
            type='MultiSimilarityLoss',
            alpha=18,
            beta=75,
            base=0.77),
        mixing_weight=0.4,
        pair_modes=('pos_neg', 'anc_neg'),
        alpha=2.0,
    ),
    mix_modes=[dict(level='feature')])
