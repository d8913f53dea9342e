# Multi-similarity loss with the thesis's constants (spec §3.2, A10): thesis
# beta = 18, gamma = 75, m = 0.77, i.e. PML MultiSimilarityLoss(alpha=18,
# beta=75, base=0.77) (PML's defaults 2 / 50 / 0.5 are not the paper's).
# No miner: the thesis mentions none; the official code adds a
# MultiSimilarityMiner(epsilon=0.39) with alpha 17.97 / beta 75.66 (its
# `code` recipe, not written here).
_base_ = './resnet50_metrix.py'

model = dict(
    loss=dict(
        loss=dict(
            _delete_=True,
            type='MultiSimilarityLoss',
            alpha=18,
            beta=75,
            base=0.77)))
