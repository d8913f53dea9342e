# Contrastive loss as the Metrix code runs it: l2 distance on unit embeddings,
# pos margin 0, neg margin 0.5, AvgNonZero reducers (spec A1).
_base_ = './_base_/preactresnet18-w16_1xb100-2e_fashionmnist-zeroshot.py'

model = dict(
    loss=dict(
        loss=dict(
            _delete_=True,
            type='ContrastiveLoss',
            pos_margin=0,
            neg_margin=0.5),
    ),
    mix_modes=[dict(level='none')])
