# MoCo v2 + CLIM on Fashion-MNIST (runs on a CPU): the quickstart's MoCo v2
# (same network, views and schedule) with CLIM's three edits:
#   1. the dataset is wrapped in CLIMPairDataset (anchor + one positive),
#   2. the views come from MultiResolutionViews: one crop per view rendered
#      at 28 and 20 px (the paper's {224, 160} ratio),
#   3. CLIMHook selects positives (faiss k-means + kNN, centre-wise rule)
#      from the key encoder's features before every epoch from epoch 1.
_base_ = '../quickstart/mocov2_resnet18-w16_1xb256-4e_fashionmnist.py'

scales = (28, 20)

model = dict(
    type='mmmix.CLIMMoCo',
    head=dict(type='mmmix.MixedContrastiveHead'),
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
test_pipeline = [dict(type='PackInputs')]

data_root = '/usr/share/datasets/fashion-mnist'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmmix.CLIMPairDataset',
        pool_size=10,
        dataset=dict(
            type='mmmix.FashionMNIST',
            data_root=data_root,
            split='train',
            pipeline=train_pipeline)))

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
            pipeline=test_pipeline))


knn_hook = dict(
    type='mmmix.KNNEvalHook',
    bank_dataloader=_loader('train'),
    query_dataloader=_loader('test'),
    interval={{_base_.max_epochs}},
    num_neighbors=(20, 200),
    topk=(1, 5),
    temperature=0.07)
# n = 60,000 images: m = n / 128 = 469 clusters (ImageNet's 1.28M / 10,000),
# k = 40 neighbours, a pool of 10 (the paper's values).
clim_hook = dict(
    type='mmmix.CLIMHook',
    dataloader=_loader('train'),
    interval=1,
    start_epoch=1,
    mode='center_wise',
    num_clusters=469,
    num_neighbors=40,
    pool_size=10)
custom_hooks = [clim_hook, knn_hook]
