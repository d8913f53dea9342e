# SimCLR + A1 (replacement, spec 5.1) with W-perturb views on Fashion-MNIST
# (CPU): the baseline simclr_resnet18-w16_1xb256-3e_fashionmnist-20k.py with
# its second view replaced by one of the 8 cached W-perturb views (sigma 0.2,
# truncation 0.7) of the unconditional generator of
# stylegan2-c32_1xb32-2400it_fashionmnist-20k.py, drawn uniformly, with the
# weak crop_small (area 0.9-1, aspect 0.9-1.1) and a flip; the loss is the
# baseline's (the cross-view InfoNCE, Eq. 12).
_base_ = ['./simclr_resnet18-w16_1xb256-3e_fashionmnist-20k.py']

view_cache = 'work_dirs/genviews_fmnist/cache_wperturb'

generated_view = [
    dict(type='mmmix.LoadGeneratedView', cache=view_cache, num_use=8,
         expected_num_samples=20000),
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.9, 1.),
         aspect_ratio_range=(0.9, 1.1), backend='cv2'),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='MultiView', num_views=[1, 1],
             transforms=[{{_base_.fmnist_view_pipeline}}, generated_view]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    {{_base_.fmnist_knn_hook}},
    dict(type='mmmix.GeneratedViewsHook'),
]
