# SimSiam + A2 with W-perturb views on Fashion-MNIST (CPU): the SimSiam
# baseline of configs/clim/simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py
# (same network, expert views, data, schedule, k-NN evaluation) plus one
# generated view per image, drawn uniformly from the 8 cached W-perturb views
# (sigma 0.2, truncation 0.7) of the unconditional generator of
# configs/learned_views/stylegan2-c32_1xb32-2400it_fashionmnist-20k.py,
# flipped with p = 0.5 (the code's A2 augmentation), appended LAST.
# Loss (Eq. 16): SimSiam on the two expert views + alpha * the mean over the
# two anchors of D(predictor(z_gen), stopgrad(z_anchor)), D = -cos, alpha 0.5.
_base_ = ['../clim/simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py']

view_cache = 'work_dirs/genviews_fmnist/cache_wperturb'

model = dict(type='mmmix.A2SimSiam', alpha=0.5, align_anchors='all')

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
