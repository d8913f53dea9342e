# MoCo v2 + InterCLR on Fashion-MNIST (CPU): the MoCo v2 baseline of the CLIM
# comparison (../clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py: the
# quickstart's network, views and optimiser, 3 epochs on the first 20,000
# training images) plus InterCLR's inter-image branch with the paper's final
# choices: online labels, semi-hard negatives from the top 10% pool, inter
# margin -0.5, intra margin 0, lambda = 0.75, 10x over-clustering (100
# clusters for 10 classes, as 10,000 for ImageNet's 1,000), min_cluster 20.
# K = 1,024 inter negatives (the queue length; the 2,000-row pool must hold
# K) and the intra temperature 0.1 for both branches.
_base_ = ['../clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py']

num_images = 20000
model = dict(
    type='mmmix.InterCLRMoCo',
    head=dict(type='mmmix.MarginNCEHead', temperature=0.1, margin=0.),
    inter_head=dict(type='mmmix.MarginNCEHead', temperature=0.1,
                    margin=-0.5),
    memory=dict(type='mmmix.PseudoLabelMemory', length=num_images,
                feat_dim=128, num_clusters=100, momentum=1.,
                min_cluster=20),
    intra_weight=0.75,
    num_negatives=1024,
    neg_strategy='semihard',
    pool_ratio=0.1,
    label_update='online')

# the training images in training order, one un-augmented view each
interclr_extract_loader = dict(
    batch_size=1000,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmmix.FashionMNIST',
        data_root='/usr/share/datasets/fashion-mnist',
        split='train',
        indices=num_images,
        pipeline=[dict(type='PackInputs')]))
custom_hooks = [
    {{_base_.fmnist_knn_hook}},
    dict(type='mmmix.InterCLRHook', dataloader=interclr_extract_loader,
         centroid_interval=10, repair_interval=1, stats_interval=50),
]
