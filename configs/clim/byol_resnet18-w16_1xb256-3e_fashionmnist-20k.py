# The BYOL baseline of the CLIM comparison on Fashion-MNIST (CPU):
# mmpretrain's BYOL config on the MoCo v2 Fashion baseline's network, views
# and data (mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py: a
# CIFAR-style ResNet-18 of width 16 on 28x28 grey images, crops (0.5, 1) +
# brightness jitter + flip for both views, the first 20,000 training images,
# 3 epochs), and its k-NN evaluation (bank: the 60,000 labelled training
# images; queries: the 10,000 test images). The projector and predictor
# (512 -> 128) are scaled down with the network; plain BN (no SyncBN). The
# batch-4096 LARS recipe (lr 4.8, warm-up, LARS exclusions) is replaced by
# the MoCo Fashion config's SGD: lr 0.03, momentum 0.9, wd 5e-4, cosine.
# Target momentum 0.99 -> 1 (cosine), as mmpretrain's BYOL.
_base_ = [
    'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py',
    './_base_/fashionmnist-20k_ssl.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

max_epochs = 3  # fmnist_epochs
batch_size = 256
width = 16  # ResNet base width; the last stage has 8 * width channels

model = dict(
    base_momentum=0.01,
    backbone=dict(
        _delete_=True,
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=width,
        base_channels=width,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(in_channels=8 * width, hid_channels=512, out_channels=128),
    head=dict(
        predictor=dict(in_channels=128, hid_channels=512, out_channels=128)))

data_root = {{_base_.fmnist_data_root}}  # the inherited top-level variable
data_preprocessor = {{_base_.fmnist_data_preprocessor}}

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    collate_fn=dict(type='default_collate'),
    dataset={{_base_.fmnist_train_dataset}})

custom_hooks = [{{_base_.fmnist_knn_hook}}]

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=5e-4, momentum=0.9))
param_scheduler = {{_base_.fmnist_param_scheduler}}
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(base_batch_size=256)
