# SimCLR + A2 (spec 5.2, Eq. 4) with W-perturb views on Fashion-MNIST (CPU):
# the baseline simclr_resnet18-w16_1xb256-3e_fashionmnist-20k.py plus one of
# the 8 cached W-perturb views (sigma 0.2, truncation 0.7) of the
# unconditional generator of stylegan2-c32_1xb32-2400it_fashionmnist-20k.py
# per image, drawn uniformly, flipped with p = 0.5, appended LAST. Loss: the
# cross-view InfoNCE (Eq. 12) of the two expert views - alpha / tau x the
# mean alignment of both expert anchors with the generated view, alpha 0.5,
# tau 0.5 (the generated view is never a negative).
_base_ = ['./simclr_resnet18-w16_1xb256-3e_fashionmnist-20k.py']

view_cache = 'work_dirs/genviews_fmnist/cache_wperturb'

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
