# SimSiam on CIFAR-10 with the recipe of
# simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py (the alpha = 0 baseline)
# and LMA (alpha = 0.3) with finitely many views (Table 5): z is drawn
# uniformly from ONE global pool of 1 latents (seed 0) shared by all images
# (spec A17), with constant generator noise, so each image has at most 1
# generated views.
_base_ = ['../simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

ablation_lma = dict(
    type='mmmix.LocalManifoldAugment',
    prob=0.3,
    generator={{_base_.lma_generator}},
    checkpoint={{_base_.lma_generator_ckpt}},
    bank={{_base_.lma_bank}},
    z_pool_size=1,
    z_pool_seed=0,
    truncation=1.0,
    noise_mode='const',
    channel_order='rgb',
    device={{_base_.lma_device}},
    expected_num_samples={{_base_.num_samples}})

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(
            type='MultiView',
            num_views=2,
            transforms=[[
                ablation_lma,
                dict(type='Compose', transforms={{_base_.hca}}),
            ]]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.lr}}),
    dict(type='mmmix.GeneratedViewsHook'),
]
