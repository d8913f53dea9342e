# An IC-GAN for LMA on ImageNet-1k / ImageNet-100 trained with mmmix: an
# EXTRAPOLATION. The paper uses the public IC-GAN of Casanova et al.
# (BigGAN backbone, 128 px, SwAV ResNet-50 features, k = 50), which mmmix
# cannot load (spec 2.3, U14). This config trains the in-package option:
# the StyleGAN2-style GAN of _base_/stylegan2-ada-auto_128px.py (StyleGAN2-
# ADA's 'auto' setting at 128 px, 25,000 kimg as for STL-10) on the
# ImageNet-1k training images (centre crop of the short edge, 128 px, as
# IC-GAN's CenterCropLongEdge + Resize), conditioned on h_i, the 2048-d
# L2-normalised backbone feature of a frozen HCA-only ResNet-50 (here the
# SimSiam baseline simsiam_resnet50_8xb64-coslr-100e_in1k.py in place of
# SwAV), with IC-GAN's k = 50 neighbours, feature augmentation and x-flips.
# Model selection: the Frechet distance (`fd`) of samples conditioned on the
# first 10,000 instances vs those instances, in the encoder's feature space,
# every 200 kimg; copy the best checkpoint to lma_generator_ckpt of
# _base_/in1k_lma.py (and _base_/in100_lma.py).
_base_ = ['./_base_/stylegan2-ada-auto_128px.py']

lma_dir = 'work_dirs/lma/in1k'
lma_bank = lma_dir + '/bank'  # tools/lma/extract_features.py --flip
lma_knn = lma_dir + '/knn50.npy'  # tools/lma/build_knn.py --k 50
lma_encoder = 'work_dirs/simsiam_resnet50_8xb64-coslr-100e_in1k/epoch_100.pth'
cond_dim = 2048  # the ResNet-50 backbone's feature
fd_num_samples = 10000
data_root = 'data/imagenet'

model = dict(
    generator=dict(cond_dim=cond_dim),
    discriminator=dict(cond_dim=cond_dim))

load_128 = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=128, edge='short', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=128),
]
icgan_train_images = dict(
    type='ImageNet',
    data_root=data_root,
    split='train',
    pipeline=[*load_128, dict(type='RandomFlip', prob=0.5),
              dict(type='PackInputs')])
icgan_val_images = dict(
    type='ImageNet',
    data_root=data_root,
    split='train',
    pipeline=[*load_128, dict(type='PackInputs')])
train_dataloader = dict(
    batch_size={{_base_.gan_batch_size}},
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmmix.KNNInstanceDataset',
        dataset=icgan_train_images,
        bank=lma_bank,
        knn=lma_knn,
        mode='train',
        flip_prob=0.5))
val_dataloader = dict(
    batch_size=250,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmmix.KNNInstanceDataset',
        dataset=icgan_val_images,
        bank=lma_bank,
        mode='val',
        max_samples=fd_num_samples))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmmix.FrechetDistance',
    feature_net=dict(
        type='mmpretrain.ResNet', depth=50, norm_cfg=dict(type='BN')),
    checkpoint=lma_encoder,
    prefix='backbone.',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
test_evaluator = val_evaluator
