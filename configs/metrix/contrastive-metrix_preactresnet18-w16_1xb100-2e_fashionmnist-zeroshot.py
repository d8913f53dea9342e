# Contrastive loss as the Metrix code runs it: l2 distance on unit embeddings,
# pos margin 0, neg margin 0.5, AvgNonZero reducers (spec A1).
# + Metrix at the feature level: w = 0.4, lam ~ Beta(2, 2) per batch,
# pos-neg or anc-neg pairs drawn per step, all pairs (thesis 4.4.2).
_base_ = './_base_/preactresnet18-w16_1xb100-2e_fashionmnist-zeroshot.py'

model = dict(
    loss=dict(
        loss=dict(
            _delete_=True,
            type='ContrastiveLoss',
            pos_margin=0,
            neg_margin=0.5),
        mixing_weight=0.4,
        pair_modes=('pos_neg', 'anc_neg'),
        alpha=2.0,
    ),
    mix_modes=[dict(level='feature')])
