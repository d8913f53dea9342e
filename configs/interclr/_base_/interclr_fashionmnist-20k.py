# What the Fashion-MNIST InterCLR configs share (names start with
# interclr_fmnist_ so that they never clash with the inherited configs'):
# the memory of the first 20,000 training images with 10x over-clustering
# (100 clusters for 10 classes, as 10,000 for ImageNet's 1,000) and
# min_cluster 20, and the hook's extraction loader: those images in training
# order, one un-augmented view each.
interclr_fmnist_num_images = 20000
interclr_fmnist_memory = dict(
    type='mmmix.PseudoLabelMemory', length=interclr_fmnist_num_images,
    feat_dim=128, num_clusters=100, momentum=1., min_cluster=20)
interclr_fmnist_hook = dict(
    type='mmmix.InterCLRHook',
    dataloader=dict(
        batch_size=1000,
        num_workers=1,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='mmmix.FashionMNIST',
            data_root='/usr/share/datasets/fashion-mnist',
            split='train',
            indices=interclr_fmnist_num_images,
            pipeline=[dict(type='PackInputs')])),
    centroid_interval=10, repair_interval=1, stats_interval=50)
