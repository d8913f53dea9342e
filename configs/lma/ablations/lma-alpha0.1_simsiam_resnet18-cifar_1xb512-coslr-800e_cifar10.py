# SimSiam on CIFAR-10 with the recipe of
# simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py (the alpha = 0 baseline)
# and LMA at alpha = 0.1 instead of 0.3: the alpha sweep of Fig. 5 (spec 2.7,
# A19: the paper gives plots only; compare trends). LMA first in each view,
# then the handcrafted augmentation (the Compose of the base's hca list).
_base_ = ['../simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

ablation_lma = dict(
    type='mmmix.LocalManifoldAugment',
    prob=0.1,
    generator={{_base_.lma_generator}},
    checkpoint={{_base_.lma_generator_ckpt}},
    bank={{_base_.lma_bank}},
    truncation=1.0,
    noise_mode='random',
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
