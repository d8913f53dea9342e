# MoCo v2 + A2 with W-perturb views on Fashion-MNIST (CPU): the MoCo v2
# baseline of configs/clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py
# (same network, expert views, data, schedule, k-NN evaluation) plus one
# generated view per image, drawn uniformly from the 8 cached W-perturb views
# (sigma 0.2, truncation 0.7) of the unconditional generator of
# stylegan2-c32_1xb32-2400it_fashionmnist-20k.py, flipped with p = 0.5,
# appended LAST, as
# a2-wperturb_simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py. Loss (an
# EXTRAPOLATION, spec 5.4, A32: the paper covers SimCLR and SimSiam only):
# MoCo's InfoNCE - alpha / tau x mean q . stopgrad(k_gen), the generated keys
# from the momentum encoder and never enqueued; alpha 0.5, tau = the head's 0.1
# (mmmix.A2MoCoV2).
_base_ = ['../clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py']

view_cache = 'work_dirs/genviews_fmnist/cache_wperturb'

model = dict(type='mmmix.A2MoCoV2', alpha=0.5)

generated_view = [
    dict(type='mmmix.LoadGeneratedView', cache=view_cache, num_use=8,
         expected_num_samples=20000),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='MultiView', num_views=[2, 1],
             transforms=[{{_base_.fmnist_view_pipeline}}, generated_view]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    {{_base_.fmnist_knn_hook}},
    dict(type='mmmix.GeneratedViewsHook'),
]
