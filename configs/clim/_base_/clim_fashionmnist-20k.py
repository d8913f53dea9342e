# CLIM's data side on Fashion-MNIST, shared by the MoCo v2 / SimSiam / BYOL
# + CLIM configs (each inherits its baseline and this file):
#   * clim_train_dataset: the first 20,000 training images wrapped in
#     CLIMPairDataset (anchor + one positive from a pool of 10), views from
#     MultiResolutionViews: one crop (0.5, 1) and flip per view rendered at
#     28 and 20 px (the paper's {224, 160} ratio), brightness jitter per copy;
#   * clim_hook: CLIMHook on the same 20,000 unaugmented images in order,
#     before every epoch from epoch 1 (the first epoch uses the anchor itself
#     as its positive): m = n / 128 = 156 clusters (ImageNet's
#     1.28M / 10,000), k = 40 neighbours, a pool of 10 (the paper's values).
# Names start with clim_ so that they never clash with the baseline's.
clim_scales = (28, 20)
clim_photometric = [
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, backend='cv2')],
         prob=0.8),
]
clim_images = dict(
    type='mmmix.FashionMNIST',
    data_root='/usr/share/datasets/fashion-mnist',
    split='train',
    indices=20000)
clim_train_dataset = dict(
    _delete_=True,
    type='mmmix.CLIMPairDataset',
    pool_size=10,
    dataset=dict(
        **clim_images,
        pipeline=[
            dict(type='mmmix.MultiResolutionViews',
                 num_views=2,
                 scales=clim_scales,
                 crop_ratio_range=(0.5, 1.),
                 flip_prob=0.5,
                 transforms=clim_photometric),
            dict(type='PackInputs'),
        ]))
clim_hook = dict(
    type='mmmix.CLIMHook',
    dataloader=dict(
        batch_size=1000,
        num_workers=1,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(**clim_images, pipeline=[dict(type='PackInputs')])),
    interval=1,
    start_epoch=1,
    mode='center_wise',
    num_clusters=156,
    num_neighbors=40,
    pool_size=10)
