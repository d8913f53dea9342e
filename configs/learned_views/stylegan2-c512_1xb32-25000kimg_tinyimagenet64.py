# The unconditional generator g of the learned views on TinyImageNet at 64 px
# (spec assimilating_views.md 4.1): the paper trains a StyleGAN2 (rosinality's
# implementation: 8-layer mapping, 512-d latents) and gives no training
# settings. Here: mmmix's StyleGAN2-style GAN with StyleGAN2-ADA's 'auto'
# setting at 64 px on one GPU (from
# configs/lma/_base_/stylegan2-ada-auto_128px.py: batch 32, channels min(16384
# / r, 512), minibatch std groups of 4, R1 gamma 0.0002 x 64^2 / 32 = 0.0256,
# EMA 10 kimg, 25,000 kimg, DiffAugment in place of ADA) with the paper's 8
# mapping layers and x-flips of the real images. The images are BGR
# (LoadImageFromFile) and the GAN keeps that order: the view cache records
# channel_order 'bgr'. Model selection: the Frechet distance (`fd`) between
# 100,000 EMA samples and the 100,000 training images (a prefix would hold few
# classes: the files are sorted by class) in the feature space of the SimCLR
# baseline's backbone
# (simclr_resnet18-cifar_4xb128-coslr-1000e_tinyimagenet64.py), every 200 kimg.
_base_ = ['../lma/_base_/stylegan2-ada-auto_128px.py']

gan_resolution = 64
simclr_encoder = ('work_dirs/simclr_resnet18-cifar_4xb128-coslr-1000e_'
                  'tinyimagenet64/epoch_1000.pth')
data_root = 'data/tiny-imagenet-200'

model = dict(
    generator=dict(resolution=gan_resolution, mapping_layers=8),
    discriminator=dict(resolution=gan_resolution),
    data_preprocessor=dict(resolution=gan_resolution),
    r1_gamma=0.0256)  # 0.0002 x 64^2 / 32

train_dataloader = dict(
    batch_size={{_base_.gan_batch_size}},
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='RandomFlip', prob=0.5),
                  dict(type='PackInputs')]))
val_dataloader = dict(
    batch_size=250,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')]))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmmix.FrechetDistance',
    feature_net=dict(
        type='mmpretrain.ResNet_CIFAR', depth=18, norm_cfg=dict(type='BN')),
    checkpoint=simclr_encoder,
    prefix='backbone.',
    mean=[122.4, 114.24, 101.49],
    std=[70.635, 68.595, 71.91],
    to_rgb=True)
test_evaluator = val_evaluator
