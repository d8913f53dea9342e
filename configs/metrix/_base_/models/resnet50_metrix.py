# Metrix DML model (thesis §4.4.1, spec §3.1): ImageNet-pretrained ResNet-50,
# the last feature map (layer4, 2048x7x7 at 224x224; the 'feature' level
# mixes it), GAP + GMP summed, a linear layer to d = 512 and l2
# normalisation (AvgMaxPoolLinearL2Neck).
# - BN frozen (eval mode, affine not trained): the official code's default
#   (`bn_freeze=1`); the thesis does not say. The code's SOP / In-Shop commands
#   unfreeze BN, but BN stays frozen here on every dataset, so mixed batches
#   never change its statistics (spec §3.1, A23).
# - ImageNet weights: torchvision's resnet50 (torchvision://, the code's
#   `resnet50(pretrained=True)`).
# - The loss: MetrixLoss around a pytorch-metric-learning loss, clean loss +
#   w x mixed loss with w = 0.4, lam ~ Beta(2, 2) drawn per batch (the code;
#   spec A3), pos-neg or anc-neg mixing pairs drawn uniformly per step, every
#   pair (thesis §4.4.2, spec §3.3, A6). The loss-specific files beside this
#   one set the PML loss; the method configs set `model.mix_modes`
#   ('none' = baseline; 'input' with hard_k = 3, 'feature', 'embedding' with
#   all negatives; spec A7).
model = dict(
    type='MetricRetriever',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(
        type='AvgMaxPoolLinearL2Neck',
        in_channels=2048,
        out_channels=512),
    loss=dict(
        type='MetrixLoss',
        loss=dict(type='ContrastiveLoss', pos_margin=0, neg_margin=0.5),
        miner=None,
        mixing_weight=0.4,
        pair_modes=('pos_neg', 'anc_neg'),
        alpha=2.0,
        lam_mode='batch',
        proxy_neg_neg=False),
    mix_modes=[dict(level='none')])
