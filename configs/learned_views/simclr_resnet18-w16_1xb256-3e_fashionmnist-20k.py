# The SimCLR baseline on Fashion-MNIST (CPU), the base of the A1 / A2 SimCLR
# Fashion configs: the network, views, data, schedule and k-NN evaluation of
# the MoCo v2 / SimSiam / BYOL Fashion baselines
# (configs/clim/_base_/fashionmnist-20k_ssl.py: a CIFAR-style ResNet-18 of
# width 16 on 28x28 grey images, crops (0.5, 1) + brightness jitter + flip,
# the first 20,000 training images, 3 epochs, SGD lr 0.03 momentum 0.9,
# weight decay 5e-4, cosine) with the CIFAR-10 recipe's model of "On
# Assimilating Learned Views" scaled down: mmmix.A2SimCLR with the
# cross-view InfoNCE of Eq. 12 at tau = 0.5 (two views: loss_align is 0)
# and a 2-layer projector (last BN without affine), 128 -> 512 -> 512.
_base_ = [
    './_base_/ssl_runtime.py',
    '../clim/_base_/fashionmnist-20k_ssl.py',
]

max_epochs = 3  # fmnist_epochs
batch_size = 256
width = 16  # ResNet base width; the last stage has 8 * width channels

model = dict(
    type='mmmix.A2SimCLR',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=width,
        base_channels=width,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=8 * width,
        hid_channels=512,
        out_channels=512,
        num_layers=2,
        with_last_bn_affine=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    head=None,
    alpha=0.5,
    temperature=0.5,
    base_loss='infonce',
    align_anchors='all',
    forward_mode='concat')

data_root = {{_base_.fmnist_data_root}}
data_preprocessor = {{_base_.fmnist_data_preprocessor}}

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(  # fmnist_train_dataset, with nothing to _delete_ here
        type='mmmix.FashionMNIST',
        data_root=data_root,
        split='train',
        indices=20000,
        pipeline=[
            dict(type='MultiView', num_views=2,
                 transforms=[{{_base_.fmnist_view_pipeline}}]),
            dict(type='PackInputs'),
        ]))

custom_hooks = [{{_base_.fmnist_knn_hook}}]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=5e-4, momentum=0.9))
param_scheduler = {{_base_.fmnist_param_scheduler}}
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(base_batch_size=256)
