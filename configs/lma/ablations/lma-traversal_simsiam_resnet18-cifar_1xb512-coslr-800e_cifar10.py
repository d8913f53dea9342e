# SimSiam on CIFAR-10 with the recipe of
# simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py (the alpha = 0 baseline)
# and the StyleGAN2-traversal baseline of Table 4 instead of LMA: with
# probability 0.3 per view the clean image is replaced by g(w_i + eps),
# eps ~ N(0, 0.2^2) on every W+ entry, w_i the image's inverted code (spec
# A16, option a: Eq. 4 needs x_i = G(z_i), so real images are inverted
# first), then the handcrafted augmentation. The unconditional generator is
# the one of configs/learned_views/stylegan2-c512_1xb64-100000kimg_cifar10.py
# and the codes come from tools/learned_views/invert_dataset.py (its
# truncation, 0.7 by default, is applied after the noise).
_base_ = ['../simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

traversal_dir = 'work_dirs/learned_views/cifar10'
traversal = dict(
    type='mmmix.LatentTraversalAugment',
    prob=0.3,
    generator=dict(
        type='mmmix.StyleGAN2Generator',
        resolution=32,
        img_channels=3,
        z_dim=512,
        w_dim=512,
        cond_dim=0,
        mapping_layers=8,
        channel_base=32768,
        channel_max=512),
    checkpoint=traversal_dir + '/stylegan2_best.pth',
    latents=traversal_dir + '/latents',
    sigma=0.2,
    mode='gauss',
    channel_order='rgb',
    expected_num_samples={{_base_.num_samples}})

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(
            type='MultiView',
            num_views=2,
            transforms=[[
                traversal,
                dict(type='Compose', transforms={{_base_.hca}}),
            ]]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.lr}}),
    dict(type='mmmix.GeneratedViewsHook'),
]
