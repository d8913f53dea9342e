# What the MoCo v2, SimSiam and BYOL Fashion-MNIST baselines of the CLIM
# comparison share: the first 20,000 training images, the views (crops
# (0.5, 1) at 28 px + brightness jitter + flip; mmcv's contrast, saturation
# and hue need 3 channels), the normalisation, a 3-epoch cosine schedule and
# the weighted k-NN evaluation (bank: the 60,000 labelled training images;
# queries: the 10,000 test images). Names start with fmnist_ so that they
# never clash with the inherited mmpretrain config's.
fmnist_epochs = 3
fmnist_data_root = '/usr/share/datasets/fashion-mnist'
# Fashion-MNIST mean / std of the 0-255 pixels, one grey channel.
fmnist_data_preprocessor = dict(
    type='SelfSupDataPreprocessor', mean=[72.94], std=[90.02], to_rgb=False)
fmnist_view_pipeline = [
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.5, 1.),
         backend='cv2'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, backend='cv2')],
         prob=0.8),
    dict(type='RandomFlip', prob=0.5),
]
fmnist_train_dataset = dict(
    _delete_=True,
    type='mmmix.FashionMNIST',
    data_root=fmnist_data_root,
    split='train',
    indices=20000,
    pipeline=[
        dict(type='MultiView', num_views=2,
             transforms=[fmnist_view_pipeline]),
        dict(type='PackInputs'),
    ])


def _loader(split):
    return dict(
        batch_size=1000,
        num_workers=1,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='mmmix.FashionMNIST',
            data_root=fmnist_data_root,
            split=split,
            pipeline=[dict(type='PackInputs')]))


fmnist_knn_hook = dict(
    type='mmmix.KNNEvalHook',
    bank_dataloader=_loader('train'),
    query_dataloader=_loader('test'),
    interval=fmnist_epochs,
    num_neighbors=(20, 200),
    topk=(1, 5),
    temperature=0.07)
fmnist_param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=fmnist_epochs, by_epoch=True,
         begin=0, end=fmnist_epochs)
]
