# Contrastive loss as the official Metrix code runs it (spec §3.2, A1): the
# thesis's eq. 4.1 gives no margin; the code uses the l2 distance of the unit
# embeddings, positive margin 0, negative margin 0.5 and PML's AvgNonZero
# reducers, i.e. PML ContrastiveLoss(pos_margin=0, neg_margin=0.5).
_base_ = './resnet50_metrix.py'

model = dict(
    loss=dict(
        loss=dict(
            _delete_=True,
            type='ContrastiveLoss',
            pos_margin=0,
            neg_margin=0.5)))
