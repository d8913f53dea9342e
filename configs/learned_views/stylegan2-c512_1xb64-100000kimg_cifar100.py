# The unconditional generator g of the learned views on CIFAR-100 (spec
# assimilating_views.md 4.1): the paper trains a StyleGAN2 (rosinality's
# implementation: 8-layer mapping, 512-d latents) on the training images and
# gives no training settings. Here: mmmix's StyleGAN2-style GAN with
# StyleGAN2-ADA's 'cifar' setting
# (configs/lma/_base_/stylegan2-ada-cifar_32px.py: batch 64, 512 channels, R1
# gamma 0.01, EMA 500 kimg, 100,000 kimg, DiffAugment in place of ADA) with the
# paper's 8 mapping layers, x-flips of the real images. Model selection: the
# Frechet distance (`fd`) between 10,000 EMA samples and the first 10,000
# training images in the feature space of the SimCLR baseline's backbone
# (simclr_resnet50-cifar_4xb128-coslr-1200e_cifar100.py), every 200 kimg; the
# best checkpoint is the generator of tools/learned_views/invert_dataset.py and
# build_view_cache.py (configs/learned_views/README.md).
_base_ = ['../lma/_base_/stylegan2-ada-cifar_32px.py']

simclr_encoder = ('work_dirs/simclr_resnet50-cifar_4xb128-coslr-1200e_'
                  'cifar100/epoch_1200.pth')
data_root = 'data/cifar100'
fd_num_samples = 10000

model = dict(generator=dict(mapping_layers=8))

train_dataloader = dict(
    batch_size={{_base_.gan_batch_size}},
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CIFAR100',
        data_root=data_root,
        split='train',
        pipeline=[dict(type='RandomFlip', prob=0.5),
                  dict(type='PackInputs')]))
val_dataloader = dict(
    batch_size=500,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CIFAR100',
        data_root=data_root,
        split='train',
        indices=fd_num_samples,
        pipeline=[dict(type='PackInputs')]))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmmix.FrechetDistance',
    feature_net=dict(
        type='mmpretrain.ResNet_CIFAR', depth=50, norm_cfg=dict(type='BN')),
    checkpoint=simclr_encoder,
    prefix='backbone.',
    mean=[129.3105, 124.1085, 112.404],
    std=[68.2125, 65.4075, 70.4055])
test_evaluator = val_evaluator
