# SimSiam + CLIM on Fashion-MNIST (CPU): an mmmix extension, NOT in the CLIM
# paper (spec §3.10). The SimSiam baseline config (same network, crops,
# optimiser, schedule, 20k images) with CLIM's three edits, as in
# clim_mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py:
#   1. mmmix.CLIMSimSiam + mmmix.MixedLatentPredictHead (SimSiam's
#      predictor and loss; lam ~ Beta(2, 2)); the dataset is wrapped in
#      CLIMPairDataset,
#   2. the views come from MultiResolutionViews: one crop per view rendered
#      at 28 and 20 px (the paper's {224, 160} ratio),
#   3. CLIMHook selects positives (faiss k-means + kNN, centre-wise rule)
#      from the online encoder's projections (SimSiam has no momentum
#      encoder) before every epoch from epoch 1 (the first epoch uses the
#      anchor itself as its positive).
_base_ = './simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py'

scales = (28, 20)

model = dict(
    type='mmmix.CLIMSimSiam',
    head=dict(type='mmmix.MixedLatentPredictHead'),
    num_resolutions=len(scales),
    alpha=2.0,
    use_inst_loss=True,
    resolution_pairs='all',
    pair_reduction='mean')

photometric = [
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, backend='cv2')],
         prob=0.8),
]
train_pipeline = [
    dict(type='mmmix.MultiResolutionViews',
         num_views=2,
         scales=scales,
         crop_ratio_range=(0.5, 1.),
         flip_prob=0.5,
         transforms=photometric),
    dict(type='PackInputs'),
]

num_train = {{_base_.num_train}}
data_root = {{_base_.data_root}}
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmmix.CLIMPairDataset',
        pool_size=10,
        dataset=dict(
            type='mmmix.FashionMNIST',
            data_root=data_root,
            split='train',
            indices=num_train,
            pipeline=train_pipeline)))

# n = 20,000 images: m = n / 128 = 156 clusters (ImageNet's 1.28M / 10,000),
# k = 40 neighbours, a pool of 10 (the paper's values). Features: the
# unaugmented images (the same 20,000, in order).
clim_hook = dict(
    type='mmmix.CLIMHook',
    dataloader=dict(
        batch_size=1000,
        num_workers=1,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='mmmix.FashionMNIST',
            data_root=data_root,
            split='train',
            indices=num_train,
            pipeline=[dict(type='PackInputs')])),
    interval=1,
    start_epoch=1,
    mode='center_wise',
    num_clusters=156,
    num_neighbors=40,
    pool_size=10)
knn_hook = {{_base_.knn_hook}}
custom_hooks = [clim_hook, knn_hook]
