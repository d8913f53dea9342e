# SimSiam with handcrafted augmentation only (alpha = 0): the LMA paper's
# baseline on ImageNet-1k (spec lma.md 2.9, 3.3, Table 8): 224 px input,
# ResNet-50 and SimSiam's ImageNet heads (3-layer 2048-d projector, 512-d
# predictor bottleneck), SyncBN. Base lr 0.05 with lr = base_lr x batch / 256,
# SGD momentum 0.9 (A4), weight decay 0.001 as printed in Table 8 (spec A2: 10x
# the original 1e-4), cosine decay, no warm-up. Batch 512 and 100 epochs are
# the spec's defaults where the paper is silent (A1): config variables. The LMA
# twin is lma_simsiam_resnet50_8xb64-coslr-100e_in1k.py.
_base_ = ['./_base_/in1k_lma.py']

base_lr = 0.05
weight_decay = 0.001  # Table 8
num_gpus = 8
batch_per_gpu = 64
batch_size = num_gpus * batch_per_gpu
lr = base_lr * batch_size / 256
max_epochs = 100

model = dict(
    type='SimSiam',
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=True),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=2048,
        num_layers=3,
        with_last_bn_affine=False,
        with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=dict(
            type='NonLinearNeck',
            in_channels=2048,
            hid_channels=512,
            out_channels=2048,
            with_avg_pool=False,
            with_last_bn=False,
            with_last_bias=True,
            norm_cfg=dict(type='SyncBN'))))

train_dataloader = dict(batch_size=batch_per_gpu)
# the predictor keeps the initial lr (SimSiam's fix_lr, [EXT])
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=lr, weight_decay=weight_decay, momentum=0.9),
    paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True, lr=lr)
]
# --auto-scale-lr rescales lr linearly from this total batch
auto_scale_lr = dict(base_batch_size=batch_size)
