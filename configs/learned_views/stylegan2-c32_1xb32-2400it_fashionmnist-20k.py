# The unconditional generator of the learned-views pipeline on Fashion-MNIST
# (CPU scale): the compact StyleGAN2-style GAN of
# configs/_base_/gan/stylegan2-c32_fashionmnist-32px.py trained on the first
# 20,000 training images (the split the pretraining configs use), 2,400
# iterations of batch 32 (76.8 kimg). The Frechet distance (`fd`) between
# 2,000 EMA samples and 2,000 training images in the feature space of the
# SimSiam baseline's backbone is measured every 400 iterations and the best
# checkpoint kept: pass the backbone's checkpoint with `--cfg-options
# val_evaluator.checkpoint=... test_evaluator.checkpoint=...` (without one
# the metric warns and measures in an untrained network's features; with
# `feature_net=None` it uses raw pixels). Then:
# tools/learned_views/invert_dataset.py and build_view_cache.py.
_base_ = ['../_base_/gan/stylegan2-c32_fashionmnist-32px.py']

gan_data_root = {{_base_.gan_data_root}}
train_dataloader = dict(
    batch_size={{_base_.gan_batch_size}},
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmmix.FashionMNIST',
        data_root=gan_data_root,
        split='train',
        indices=20000,
        pipeline=[dict(type='PackInputs')]))
val_dataloader = dict(
    batch_size=250,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmmix.FashionMNIST',
        data_root=gan_data_root,
        split='train',
        indices=2000,
        pipeline=[dict(type='PackInputs')]))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmmix.FrechetDistance',
    feature_net=dict(
        type='mmpretrain.ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16,
        norm_cfg=dict(type='BN')),
    checkpoint=None,
    prefix='backbone.',
    mean=[72.94],
    std=[90.02])
test_evaluator = val_evaluator
