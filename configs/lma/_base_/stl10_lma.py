# STL-10 for the LMA paper configs (spec lma.md 2.7, 3.2, 3.3, 3.4, A6,
# A24): SSL on the 5,000 labelled training images + the 100,000 unlabelled
# ones as ONE dataset (one index space, so bank rows never collide; spec
# A24), the paper's handcrafted augmentation (HCA, Appendix A.2, with blur)
# at the 128 px input scale of Table 8 (the 96 px images are upsampled by
# the crop), and the LMA transform that replaces a clean view by
# G_ema(z, h_i) of the 128 px IC-GAN of
# icgan-stylegan2-c512_1xb32-25000kimg_stl10.py.
#
# Data layout (mmpretrain CustomDataset without labels): the 105,000 images
# as PNG files in data/stl10/train+unlabeled/ (train first, then
# unlabeled: configs/lma/README.md shows how to write them from the
# binary release). The linear probe uses the labelled train / test splits.
#
# hca_train_pipeline is the alpha = 0 baseline's; lma_train_pipeline puts
# LocalManifoldAugment FIRST in each view pipeline (after loading the file).
# Artefact paths: see configs/lma/README.md (a child config that redefines
# one of these variables does NOT change the pipelines built here).
_base_ = './ssl_runtime.py'

dataset_type = 'CustomDataset'
data_root = 'data/stl10'
num_samples = 105000  # train (5k) + unlabeled (100k)
input_size = 128
# ImageNet mean / std (0-255); images are decoded as BGR and converted to
# RGB by the preprocessor.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# HCA, Appendix A.2, in this order (spec 3.2). Blur: the MoCo v2 sigma range
# [0.1, 2.0] (spec A3; the paper's "radius in [1, 2]"). BGR images: the grey
# weights are (B, G, R).
blur_sigma = (0.1, 2.0)
hca = [
    dict(type='RandomResizedCrop', scale=input_size,
         crop_ratio_range=(0.2, 1.), aspect_ratio_range=(3. / 4., 4. / 3.),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=blur_sigma,
         magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]

# LMA (spec 2.6, 3.1): alpha = 0.3 on STL-10; G_ema of the IC-GAN at 128 px
# (StyleGAN2-ADA's 'auto' setting on one GPU), conditioned on the 512-d
# L2-normalised backbone feature of the HCA-only SimSiam f_phi (ResNet-18).
lma_prob = 0.3
lma_dir = 'work_dirs/lma/stl10'
lma_bank = lma_dir + '/bank'
lma_knn = lma_dir + '/knn20.npy'  # k not stated: 20 (spec A8)
lma_generator_ckpt = lma_dir + '/icgan_best.pth'
lma_generator = dict(
    type='mmmix.StyleGAN2Generator',
    resolution=128,
    img_channels=3,
    z_dim=512,
    w_dim=512,
    cond_dim=512,
    mapping_layers=2,
    channel_base=16384,
    channel_max=512)
lma_device = 'cpu'  # inside (forked) dataloader workers
lma = dict(
    type='mmmix.LocalManifoldAugment',
    prob=lma_prob,
    generator=lma_generator,
    checkpoint=lma_generator_ckpt,
    bank=lma_bank,
    truncation=1.0,
    noise_mode='random',
    # The IC-GAN learnt the BGR images LoadImageFromFile decodes (the GAN
    # data preprocessor keeps the channel order), so its output is in the
    # pipeline's order already: 'rgb' = no channel flip.
    channel_order='rgb',
    device=lma_device,
    expected_num_samples=num_samples)

hca_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[hca]),
    dict(type='PackInputs'),
]
lma_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[[lma, *hca]]),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=512,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='train+unlabeled',
        with_label=False,
        pipeline=hca_train_pipeline))

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
log_processor = dict(window_size=50)
randomness = dict(seed=0, deterministic=False)
