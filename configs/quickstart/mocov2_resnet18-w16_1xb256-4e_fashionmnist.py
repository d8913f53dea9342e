# Quickstart: MoCo v2 (mmpretrain's config, edited) on Fashion-MNIST with a
# small CIFAR-style ResNet-18 (widths 16-128, 3x3 stem, no max-pool) adapted
# to 28x28 grey images, then weighted k-NN top-1 on the test set beside the
# same network at random init and beside raw pixels. `make demo` runs it.
_base_ = 'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

max_epochs = 4
batch_size = 256
width = 16  # ResNet base width; the last stage has 8 * width channels

model = dict(
    queue_len=1024,
    feat_dim=128,
    momentum=0.01,  # key encoder EMA 0.99: short schedule
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
    head=dict(temperature=0.1))

# Fashion-MNIST mean / std of the 0-255 pixels, one grey channel.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor', mean=[72.94], std=[90.02], to_rgb=False)

view_pipeline = [
    # milder crops than ImageNet's (0.2, 1): a 20% crop of a 28x28 garment
    # rarely shows what it is, and the schedule is short.
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
test_pipeline = [dict(type='PackInputs')]

data_root = '/usr/share/datasets/fashion-mnist'
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        _delete_=True,
        type='mmmix.FashionMNIST',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))


def _knn_loader(split):
    return dict(
        batch_size=1000,
        num_workers=1,  # loading overlaps the forward pass
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='mmmix.FashionMNIST',
            data_root=data_root,
            split=split,
            pipeline=test_pipeline))


custom_hooks = [
    dict(
        type='KNNEvalHook',
        bank_dataloader=_knn_loader('train'),
        query_dataloader=_knn_loader('test'),
        interval=max_epochs,
        eval_before_train=True,
        raw_pixel_baseline=True,
        num_neighbors=(20, 200),
        topk=(1, 5),
        temperature=0.07)
]

optim_wrapper = dict(
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
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(base_batch_size=256)
