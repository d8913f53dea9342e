# ImageNet-1k for the LMA paper configs (spec lma.md 2.3, 2.7, 3.2, 3.3,
# 3.4, A10): the 1,281,167 training images, the paper's handcrafted
# augmentation (HCA, Appendix A.2, with blur) at 224 px, and the LMA
# transform with alpha = 0.1 (the paper's ImageNet value).
#
# Generator: the paper uses the public IC-GAN of Casanova et al. (BigGAN
# backbone, 128 px, SwAV ResNet-50 features). mmmix does not support
# BigGAN checkpoints: the in-package option is the StyleGAN2-style IC-GAN
# of icgan-stylegan2-c512_1xb32-25000kimg_in1k.py (128 px, conditioned on
# the 2048-d L2-normalised backbone feature of an HCA-only ResNet-50, e.g.
# simsiam_resnet50_8xb64-coslr-100e_in1k.py), an extrapolation. Its 128 px
# output goes through the same RandomResizedCrop as the real images
# (spec A10).
#
# Data layout: mmpretrain's ImageNet (data/imagenet/train/<wnid>/*.JPEG and
# meta/train.txt). hca_train_pipeline is the alpha = 0 baseline's;
# lma_train_pipeline puts LocalManifoldAugment FIRST in each view pipeline.
# Artefact paths: see configs/lma/README.md (a child config that redefines
# one of these variables does NOT change the pipelines built here).
_base_ = './ssl_runtime.py'

dataset_type = 'ImageNet'
data_root = 'data/imagenet'
num_samples = 1281167
input_size = 224
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# HCA, Appendix A.2 (spec 3.2); blur sigma in [0.1, 2.0] (spec A3).
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

# LMA: alpha = 0.1 on ImageNet (spec 3.1).
lma_prob = 0.1
lma_dir = 'work_dirs/lma/in1k'
lma_bank = lma_dir + '/bank'  # fp16 recommended: 1.28M x 2048
lma_knn = lma_dir + '/knn50.npy'  # the IC-GAN's k = 50 [EXT]
lma_generator_ckpt = lma_dir + '/icgan_best.pth'
lma_generator = dict(
    type='mmmix.StyleGAN2Generator',
    resolution=128,
    img_channels=3,
    z_dim=512,
    w_dim=512,
    cond_dim=2048,
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
    # trained on the BGR images LoadImageFromFile decodes: no flip
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
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=hca_train_pipeline))

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
log_processor = dict(window_size=50)
randomness = dict(seed=0, deterministic=False)
