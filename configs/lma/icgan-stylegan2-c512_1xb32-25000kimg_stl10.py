# The IC-GAN of LMA on STL-10 (spec lma.md 2.5, Table 7, A6, A8): the
# StyleGAN2-style GAN of _base_/stylegan2-ada-auto_128px.py (StyleGAN2-ADA's
# 'auto' setting at 128 px, 25,000 kimg) trained on train + unlabeled (the
# 105,000 images of _base_/stl10_lma.py, upsampled 96 -> 128 px, bicubic),
# conditioned on h_i, the 512-d L2-normalised backbone feature of the
# frozen HCA-only SimSiam f_phi (simsiam_resnet18_1xb512-coslr-800e_stl10.py)
# of the 128 px image, trained to produce the instance's k = 20 nearest
# neighbours (k is not stated for STL-10: spec A8), with IC-GAN's feature
# augmentation and x-flips of the real images (spec A7).
# Model selection: the Frechet distance (`fd`) of samples conditioned on the
# first 10,000 instances vs those instances in f_phi's feature space, every
# 200 kimg; copy the best checkpoint to lma_generator_ckpt of
# _base_/stl10_lma.py. The images are BGR (LoadImageFromFile) and the GAN
# keeps that order; the metric converts to RGB for f_phi.
_base_ = ['./_base_/stylegan2-ada-auto_128px.py']

lma_dir = 'work_dirs/lma/stl10'
lma_bank = lma_dir + '/bank'  # tools/lma/extract_features.py --flip
lma_knn = lma_dir + '/knn20.npy'  # tools/lma/build_knn.py --k 20
lma_encoder = ('work_dirs/simsiam_resnet18_1xb512-coslr-800e_stl10/'
               'epoch_800.pth')
cond_dim = 512
fd_num_samples = 10000
data_root = 'data/stl10'

model = dict(
    generator=dict(cond_dim=cond_dim),
    discriminator=dict(cond_dim=cond_dim))

load_128 = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), interpolation='bicubic'),
]
icgan_train_images = dict(
    type='CustomDataset',
    data_root=data_root,
    data_prefix='train+unlabeled',
    with_label=False,
    pipeline=[*load_128, dict(type='RandomFlip', prob=0.5),
              dict(type='PackInputs')])
icgan_val_images = dict(
    type='CustomDataset',
    data_root=data_root,
    data_prefix='train+unlabeled',
    with_label=False,
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
        type='mmpretrain.ResNet', depth=18, norm_cfg=dict(type='BN')),
    checkpoint=lma_encoder,
    prefix='backbone.',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
test_evaluator = val_evaluator
