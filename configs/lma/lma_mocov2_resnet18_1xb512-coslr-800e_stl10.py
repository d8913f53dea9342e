# MoCo v2 + LMA on STL-10 (Algorithm 1): the alpha = 0 baseline
# mocov2_resnet18_1xb512-coslr-800e_stl10.py with LocalManifoldAugment FIRST in
# each view pipeline: each view is replaced, independently, with probability
# alpha = 0.3 by G_ema(z, h_i) before the handcrafted augmentation
# (_base_/stl10_lma.py). GeneratedViewsHook checks the bank against the
# training set first.
_base_ = ['./mocov2_resnet18_1xb512-coslr-800e_stl10.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.lma_train_pipeline}}))
custom_hooks = [dict(type='mmmix.GeneratedViewsHook')]
