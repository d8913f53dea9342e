# InterCLR's pseudo-label machinery on ImageNet-1k, shared by the ImageNet
# InterCLR configs (spec interclr.md §3.2, §4.1; names start with interclr_
# so that they never clash with the inherited mmpretrain config's):
#   * interclr_num_images: the memory has one row per training image
#     (ImageNet-1k train, 1,281,167 images; InterCLRHook / MemoryBankHook
#     check it against the training set before the first step);
#   * interclr_memory: k = 10,000 clusters, inner-product assignment to the
#     unnormalised centroids ('dot', the released code; spec A1), clusters
#     under 20 members emptied and refilled by splitting the largest one;
#     memory momentum 1 (MoCo v2 / BYOL; NPIDv2 sets 0.5);
#   * interclr_extract_loader: the training images in training order (same
#     dataset, split and annotation file as the train set, no shuffling)
#     through a deterministic pipeline, Resize 256 (short side) + CenterCrop
#     224; 64 images per GPU (the released code extracted 256 per GPU: the
#     batch size changes nothing but speed and memory);
#   * interclr_hook: global k-means of those features before training, then
#     centroids recomputed every 10 iterations, small / empty clusters
#     repaired every iteration, cluster statistics every 50 iterations;
#     with offline labels (ablation) a global re-clustering after every
#     epoch instead (offline_interval=1, spec A3). Features for k-means:
#     the online encoder's backbone + neck (the released code).
interclr_data_root = 'data/imagenet/'
interclr_num_images = 1281167
interclr_num_clusters = 10000
interclr_memory = dict(
    type='mmmix.PseudoLabelMemory',
    length=interclr_num_images,
    feat_dim=128,
    num_clusters=interclr_num_clusters,
    momentum=1.0,
    assign_metric='dot',
    min_cluster=20)
interclr_extract_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
interclr_extract_loader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ImageNet',
        data_root=interclr_data_root,
        split='train',
        pipeline=interclr_extract_pipeline))
interclr_hook = dict(
    type='mmmix.InterCLRHook',
    dataloader=interclr_extract_loader,
    feat_source='online',
    offline_interval=1,
    centroid_interval=10,
    repair_interval=1,
    stats_interval=50,
    warmup_epochs=0)
