# BYOL + A2 with W-perturb views on CIFAR-10: an EXTRAPOLATION (spec 5.4, A32;
# the paper covers SimCLR and SimSiam only). The baseline
# byol_resnet18-cifar_1xb512-coslr-800e_cifar10.py with one of the 8 cached
# generated views of the image, flipped, appended LAST; loss = BYOL's + alpha x
# the mean over both expert targets of D(predictor(online(g)),
# stopgrad(target(v_i))) (Eq. 16's analogue); the target network sees expert
# views only; alpha 0.5.
_base_ = ['./byol_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

view_cache = 'work_dirs/learned_views/cifar10/cache_wperturb'

model = dict(type='mmmix.A2BYOL', alpha=0.5, align_anchors='all')

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
custom_hooks = [dict(type='mmmix.GeneratedViewsHook')]
