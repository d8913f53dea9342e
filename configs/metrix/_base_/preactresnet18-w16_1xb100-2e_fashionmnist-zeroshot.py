# Shared part of the Fashion-MNIST zero-shot retrieval comparison (runs on a
# 2-core CPU): train on the 30k training images of classes 0-4 (T-shirt,
# trouser, pullover, dress, coat), retrieve among the 5k test images of the
# unseen classes 5-9 (sandal, shirt, sneaker, bag, ankle boot), each test
# image querying all the others (Recall@K, MAP@R). PreActResNet-18 at base
# width 16 from scratch (BN trained), GAP+GMP -> 128-d l2 embedding,
# batch 100 drawn uniformly (as on CUB/Cars), AdamW 1e-3, 2 epochs with
# per-iteration cosine decay. The method configs beside this file set
# `model.loss` and `model.mix_modes`.
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

width = 16
embed_dim = 128
max_epochs = 2
data_root = '/usr/share/datasets/fashion-mnist'

model = dict(
    type='MetricRetriever',
    backbone=dict(
        type='PreActResNet', depth=18, in_channels=1, base_channels=width),
    neck=dict(
        type='AvgMaxPoolLinearL2Neck',
        in_channels=8 * width,
        out_channels=embed_dim),
    loss=dict(
        type='MetrixLoss',
        loss=dict(type='ContrastiveLoss', pos_margin=0, neg_margin=0.5)),
    mix_modes=[dict(level='none')])

data_preprocessor = dict(
    type='ClsDataPreprocessor', mean=[72.94], std=[90.02], to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=100,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='FashionMNISTZeroShot',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=500,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='FashionMNISTZeroShot',
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
val_evaluator = dict(type='RetrievalRecall', topk=(1, 2, 4, 8), map_at_r=True)
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(type='value', clip_value=10))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1, max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
