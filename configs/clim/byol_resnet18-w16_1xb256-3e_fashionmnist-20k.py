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
_base_ = 'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py'
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

max_epochs = 3
batch_size = 256
num_train = 20000
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

# Fashion-MNIST mean / std of the 0-255 pixels, one grey channel.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor', mean=[72.94], std=[90.02], to_rgb=False)

view_pipeline = [
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.5, 1.),
         backend='cv2'),
    # mmcv's contrast, saturation and hue need 3 channels: brightness only.
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, backend='cv2')],
         prob=0.8),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]

data_root = '/usr/share/datasets/fashion-mnist'
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        _delete_=True,
        type='mmmix.FashionMNIST',
        data_root=data_root,
        split='train',
        indices=num_train,
        pipeline=train_pipeline))


def _loader(split):
    return dict(
        batch_size=1000,
        num_workers=1,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='mmmix.FashionMNIST',
            data_root=data_root,
            split=split,
            pipeline=[dict(type='PackInputs')]))


knn_hook = dict(
    type='mmmix.KNNEvalHook',
    bank_dataloader=_loader('train'),
    query_dataloader=_loader('test'),
    interval=max_epochs,
    num_neighbors=(20, 200),
    topk=(1, 5),
    temperature=0.07)
custom_hooks = [knn_hook]

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=5e-4, momentum=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(base_batch_size=256)
