# SimSiam + LMA on ImageNet-100 (Algorithm 1): the alpha = 0 baseline
# simsiam_resnet50_8xb32-coslr-200e_in100.py with LocalManifoldAugment FIRST in
# each view pipeline: each view is replaced, independently, with probability
# alpha = 0.3 by G_ema(z, h_i) before the handcrafted augmentation
# (_base_/in100_lma.py). GeneratedViewsHook checks the bank against the
# training set first.
_base_ = ['./simsiam_resnet50_8xb32-coslr-200e_in100.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.lma_train_pipeline}}))
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.lr}}),
    dict(type='mmmix.GeneratedViewsHook'),
]
