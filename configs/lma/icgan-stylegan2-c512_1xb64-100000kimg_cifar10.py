# The IC-GAN of LMA on CIFAR-10 (spec lma.md 2.5, Table 7): the StyleGAN2-
# style GAN of _base_/stylegan2-ada-cifar_32px.py (StyleGAN2-ADA's 'cifar'
# setting, 100,000 kimg) conditioned on h_i, the 512-d L2-normalised
# backbone feature of an instance under the frozen HCA-only SimSiam f_phi
# (simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py), trained to produce
# the instance's k = 20 nearest neighbours (KNNInstanceDataset: the real
# image shown to D is a neighbour x_n of the instance, never x_i itself),
# with IC-GAN's feature augmentation (the flipped image's feature with
# probability 0.5) and x-flips of the real images (spec A7).
# Model selection: the Frechet distance (`fd`) between samples conditioned
# on every training instance and the instances, in f_phi's feature space
# (the FID's Inception network cannot be downloaded here), every 200 kimg;
# the best checkpoint is kept: copy it to lma_generator_ckpt of
# _base_/cifar10_lma.py. Preparation: configs/lma/README.md.
_base_ = ['./_base_/stylegan2-ada-cifar_32px.py']

lma_dir = 'work_dirs/lma/cifar10'
lma_bank = lma_dir + '/bank'  # tools/lma/extract_features.py --flip
lma_knn = lma_dir + '/knn20.npy'  # tools/lma/build_knn.py --k 20
lma_encoder = ('work_dirs/simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10/'
               'epoch_800.pth')
cond_dim = 512  # the ResNet-18 backbone's feature
data_root = 'data/cifar10'

model = dict(
    generator=dict(cond_dim=cond_dim),
    discriminator=dict(cond_dim=cond_dim))

icgan_train_images = dict(
    type='CIFAR10',
    data_root=data_root,
    split='train',
    pipeline=[dict(type='RandomFlip', prob=0.5),
              dict(type='PackInputs')])
icgan_val_images = dict(
    type='CIFAR10',
    data_root=data_root,
    split='train',
    pipeline=[dict(type='PackInputs')])
train_dataloader = dict(
    batch_size={{_base_.gan_batch_size}},
    num_workers=4,
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
    batch_size=500,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmmix.KNNInstanceDataset',
        dataset=icgan_val_images,
        bank=lma_bank,
        mode='val'))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmmix.FrechetDistance',
    feature_net=dict(
        type='mmpretrain.ResNet_CIFAR', depth=18, norm_cfg=dict(type='BN')),
    checkpoint=lma_encoder,
    prefix='backbone.',
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255])
test_evaluator = val_evaluator
