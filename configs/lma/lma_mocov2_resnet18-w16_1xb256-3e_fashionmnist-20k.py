# MoCo v2 + LMA on Fashion-MNIST (CPU): the MoCo v2 baseline of
# configs/clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py (same network,
# views, data, schedule and k-NN evaluation) with LocalManifoldAugment as the
# FIRST op of each view pipeline (Algorithm 1), exactly as
# lma_simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py: with probability
# alpha = 0.3 per view, independently, the clean image is replaced by
# G_ema(z, h_i) of the IC-GAN of
# configs/lma/icgan-stylegan2-c32_1xb32-2400it_fashionmnist-20k.py before the
# hand-crafted augmentations (same bank, generator and checkpoint).
_base_ = ['../clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py']

lma_prob = 0.3
lma_generator_ckpt = 'work_dirs/genviews_fmnist/icgan/best.pth'
lma_bank = 'work_dirs/genviews_fmnist/bank'

lma = dict(
    type='mmmix.LocalManifoldAugment',
    prob=lma_prob,
    generator=dict(
        type='mmmix.StyleGAN2Generator',
        resolution=32,
        img_channels=1,
        z_dim=64,
        w_dim=128,
        cond_dim=128,
        mapping_layers=2,
        channel_base=512,
        channel_max=32),
    checkpoint=lma_generator_ckpt,
    bank=lma_bank,
    center_crop=28,
    expected_num_samples=20000)
view_pipeline = [
    lma,
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.5, 1.),
         backend='cv2'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, backend='cv2')],
         prob=0.8),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    {{_base_.fmnist_knn_hook}},
    dict(type='mmmix.GeneratedViewsHook'),
]
