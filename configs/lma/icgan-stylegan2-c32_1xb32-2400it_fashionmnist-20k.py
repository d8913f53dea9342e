# The instance-conditioned generator of LMA on Fashion-MNIST (CPU scale):
# the compact StyleGAN2-style GAN of
# configs/_base_/gan/stylegan2-c32_fashionmnist-32px.py conditioned on the
# frozen SimSiam baseline's 128-d backbone feature h_i of an
# instance, trained to produce the instance's k = 20 nearest neighbours (the
# CIFAR-10 default of the paper), 2,400 iterations of batch 32 (76.8 kimg).
# Preparation (see configs/lma/README.md):
#   tools/lma/extract_features.py  -> the feature bank (lma_bank)
#   tools/lma/build_knn.py --k 20  -> the neighbour table (lma_knn)
# The Frechet distance (`fd`) of 2,000 samples conditioned on the first 2,000
# instances vs those instances, in the same frozen backbone's feature space,
# is measured every 400 iterations and the best checkpoint kept.
_base_ = ['../_base_/gan/stylegan2-c32_fashionmnist-32px.py']

lma_bank = 'work_dirs/genviews_fmnist/bank'
lma_knn = 'work_dirs/genviews_fmnist/knn20.npy'
lma_encoder = 'work_dirs/genviews_fmnist/simsiam_seed0/epoch_3.pth'
cond_dim = 128  # the ResNet-18 w16 backbone's last stage (8 x 16 channels)

model = dict(
    generator=dict(cond_dim=cond_dim),
    discriminator=dict(cond_dim=cond_dim))

gan_data_root = {{_base_.gan_data_root}}
fmnist_20k = dict(
    type='mmmix.FashionMNIST',
    data_root=gan_data_root,
    split='train',
    indices=20000,
    pipeline=[dict(type='PackInputs')])
train_dataloader = dict(
    batch_size={{_base_.gan_batch_size}},
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmmix.KNNInstanceDataset',
        dataset=fmnist_20k,
        bank=lma_bank,
        knn=lma_knn,
        mode='train',
        flip_prob=0.5))
val_dataloader = dict(
    batch_size=250,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmmix.KNNInstanceDataset',
        dataset=fmnist_20k,
        bank=lma_bank,
        mode='val',
        max_samples=2000))
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
    checkpoint=lma_encoder,
    prefix='backbone.',
    mean=[72.94],
    std=[90.02])
test_evaluator = val_evaluator
