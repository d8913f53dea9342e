# CIFAR-10 for the LMA paper configs (spec lma.md 2.7, 3.2, 3.3, 3.4):
# the 50,000 training images, the paper's handcrafted augmentation (HCA,
# Appendix A.2, no blur on CIFAR) at the 32 px input scale, and the LMA
# transform that replaces a clean view by G_ema(z, h_i) of the IC-GAN of
# icgan-stylegan2-c512_1xb64-100000kimg_cifar10.py.
#
# hca_train_pipeline is the alpha = 0 baseline's; lma_train_pipeline puts
# LocalManifoldAugment FIRST in each of the two view pipelines (Algorithm
# 1: an independent Bernoulli(alpha) and an independent z per view, on the
# clean image, then HCA on every view, real or generated).
#
# The artefact paths below are where the preparation commands of
# configs/lma/README.md write. A child config that redefines one of these
# variables does NOT change the pipelines built from it here: point the
# transform elsewhere with --cfg-options on its own keys (README).
_base_ = './ssl_runtime.py'

dataset_type = 'CIFAR10'
data_root = 'data/cifar10'
num_samples = 50000  # the training split; the bank has one row per image
input_size = 32
# CIFAR mean / std (0.4914, 0.4822, 0.4465) / (0.2023, 0.1994, 0.2010) of
# the SimSiam CIFAR recipe, on the 0-255 scale; mmpretrain's CIFAR arrays
# are RGB already.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)

# HCA, Appendix A.2, in this order (spec 3.2). Gaussian blur is disabled on
# CIFAR. RGB arrays: the grey weights are (R, G, B).
hca = [
    dict(type='RandomResizedCrop', scale=input_size,
         crop_ratio_range=(0.2, 1.), aspect_ratio_range=(3. / 4., 4. / 3.),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.2989, 0.587, 0.114)),
    dict(type='RandomFlip', prob=0.5),
]

# LMA (spec 2.6, 3.1): alpha = 0.3 on CIFAR-10; G_ema of the IC-GAN
# (StyleGAN2-ADA's 'cifar' setting at 32 px, conditioned on the 512-d
# L2-normalised backbone feature of the HCA-only SimSiam f_phi).
lma_prob = 0.3
lma_dir = 'work_dirs/lma/cifar10'
lma_bank = lma_dir + '/bank'  # tools/lma/extract_features.py --out
lma_knn = lma_dir + '/knn20.npy'  # tools/lma/build_knn.py --k 20 --out
lma_images = lma_dir + '/images.npy'  # extract_features.py --save-images
lma_generator_ckpt = lma_dir + '/icgan_best.pth'  # the lowest-FD checkpoint
lma_generator = dict(
    type='mmmix.StyleGAN2Generator',
    resolution=32,
    img_channels=3,
    z_dim=512,
    w_dim=512,
    cond_dim=512,
    mapping_layers=2,
    channel_base=32768,
    channel_max=512)
lma_device = 'cpu'  # inside (forked) dataloader workers
lma = dict(
    type='mmmix.LocalManifoldAugment',
    prob=lma_prob,
    generator=lma_generator,
    checkpoint=lma_generator_ckpt,
    bank=lma_bank,
    truncation=1.0,  # no truncation, z ~ N(0, I) (spec A9)
    noise_mode='random',
    channel_order='rgb',  # CIFAR arrays are RGB, as the IC-GAN's output
    device=lma_device,
    expected_num_samples=num_samples)

hca_train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[hca]),
    dict(type='PackInputs'),
]
lma_train_pipeline = [
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
        split='train',
        pipeline=hca_train_pipeline))

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
log_processor = dict(window_size=50)
randomness = dict(seed=0, deterministic=False)
