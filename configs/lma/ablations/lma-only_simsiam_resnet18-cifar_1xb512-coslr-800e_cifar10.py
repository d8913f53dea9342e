# SimSiam on CIFAR-10 with the recipe of
# simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py (the alpha = 0 baseline)
# and 'LMA only' (Table 1 middle rows): every view is a sample of the IC-GAN
# (alpha = 1) and no handcrafted augmentation follows (spec A12: the 32 px
# samples are already at the input scale, so the view pipeline is the LMA
# transform alone). The paper finds alpha = 1 worse than alpha = 0 (Fig. 5).
_base_ = ['../simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

ablation_lma = dict(
    type='mmmix.LocalManifoldAugment',
    prob=1.0,
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
        dict(type='MultiView', num_views=2, transforms=[[ablation_lma]]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.lr}}),
    dict(type='mmmix.GeneratedViewsHook'),
]
