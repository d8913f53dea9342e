# SimSiam + LMA on ImageNet-1k (Algorithm 1): the alpha = 0 baseline
# simsiam_resnet50_8xb64-coslr-100e_in1k.py with LocalManifoldAugment FIRST in
# each view pipeline: each view is replaced, independently, with probability
# alpha = 0.1 by G_ema(z, h_i) before the handcrafted augmentation
# (_base_/in1k_lma.py). GeneratedViewsHook checks the bank against the training
# set first.
_base_ = ['./simsiam_resnet50_8xb64-coslr-100e_in1k.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.lma_train_pipeline}}))
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.lr}}),
    dict(type='mmmix.GeneratedViewsHook'),
]
