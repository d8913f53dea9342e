# SimSiam on CIFAR-10 with the recipe of
# simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py (the alpha = 0 baseline)
# and 'SimSiam-mix' (Fig. 5): the SAME LMA transform placed BEFORE MultiView,
# so with probability alpha = 0.3 the source image itself is generated and both
# views are handcrafted augmentations of that one generated image (no extra
# multiview variation; spec 2.8, A18). LMA and mix differ only by this
# placement.
_base_ = ['../simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

ablation_lma = dict(
    type='mmmix.LocalManifoldAugment',
    prob=0.3,
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
        ablation_lma,
        dict(type='MultiView', num_views=2, transforms=[{{_base_.hca}}]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.lr}}),
    dict(type='mmmix.GeneratedViewsHook'),
]
