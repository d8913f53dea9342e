# SimSiam + A2 (spec 5.3, App. F, Eq. 16; Table 12) with W-search views on
# CIFAR-10: the SimSiam CIFAR recipe
# configs/lma/simsiam-wd5e-4_resnet18-cifar_1xb512-coslr-800e_cifar10.py
# (SimSiam's original CIFAR settings: batch 512, lr 0.06, weight decay 5e-4,
# 800 epochs; the paper gives none) with one of the 8 cached generated views of
# the image, flipped, appended LAST. Loss: SimSiam on the two expert views +
# alpha x the mean over both expert anchors of D(predictor(z_gen),
# stopgrad(z_anchor)), D = -cos (spec A18), alpha 0.5. The cache is the SimCLR
# configs' (W-search with the SimCLR encoder: Table 12's best row,
# 'W-search-SimCLR + A2-SimSiam').
_base_ = ['../lma/simsiam-wd5e-4_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

view_cache = 'work_dirs/learned_views/cifar10/cache_wsearch'

model = dict(type='mmmix.A2SimSiam', alpha=0.5, align_anchors='all')

generated_view = [
    dict(type='mmmix.LoadGeneratedView', cache=view_cache, num_use=8,
         channel_order='rgb', expected_num_samples={{_base_.num_samples}}),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='MultiView', num_views=[2, 1],
             transforms=[{{_base_.hca}}, generated_view]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.lr}}),
    dict(type='mmmix.GeneratedViewsHook'),
]
