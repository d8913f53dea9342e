# MoCo v2 + A2 with W-perturb views on CIFAR-10: an EXTRAPOLATION (spec 5.4,
# A32; the paper covers SimCLR and SimSiam only). The MoCo v2 CIFAR recipe
# configs/lma/mocov2-wd5e-4_resnet18-cifar_1xb512-coslr-800e_cifar10.py (K
# 4096, tau 0.2, m 0.99, batch 512, lr 0.06, weight decay 5e-4, 800 epochs)
# with one of the 8 cached generated views of the image, flipped, appended
# LAST; loss = MoCo's InfoNCE - alpha / tau x mean q . stopgrad(k_gen), the
# generated keys from the momentum encoder and never enqueued; alpha 0.5, tau =
# the head's 0.2.
_base_ = ['../lma/mocov2-wd5e-4_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

view_cache = 'work_dirs/learned_views/cifar10/cache_wperturb'

model = dict(type='mmmix.A2MoCoV2', alpha=0.5)

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
