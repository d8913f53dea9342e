# CLIM's positive selection on ImageNet-1k, shared by the MoCo v2 / SimSiam /
# BYOL + CLIM configs (names start with clim_ so that they never clash with
# the inherited mmpretrain config's):
#   * clim_photometric: MoCo v2's photometric ops (mmpretrain's mocov2 view
#     pipeline), applied by MultiResolutionViews to every resolution copy
#     with its own random draws (the crop and flip are shared by a view's
#     copies);
#   * clim_dataloader / clim_hook: every 5 epochs from epoch 0, the key
#     encoder's features of the centre-cropped training images in dataset
#     order (A2), faiss k-means (m = 10,000), exact kNN (k = 40), the
#     centre-wise rule (Eq. 2), 10 positives per anchor.
clim_photometric = [
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
]
clim_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet/',
        split='train',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='ResizeEdge', scale=256, edge='short',
                 backend='pillow'),
            dict(type='CenterCrop', crop_size=224),
            dict(type='PackInputs'),
        ]))
clim_hook = dict(
    type='mmmix.CLIMHook',
    dataloader=clim_dataloader,
    interval=5,
    start_epoch=0,
    mode='center_wise',
    num_clusters=10000,
    num_neighbors=40,
    pool_size=10)
