# SimSiam with handcrafted augmentation only (alpha = 0): the LMA paper's
# baseline on CIFAR-100 (spec lma.md 2.9, 3.3, Table 8): 32 px input, the CIFAR
# ResNet-18 (3x3 stem, no max-pool) and SimSiam's CIFAR heads (2-layer 2048-d
# projector, 512-d predictor bottleneck). Base lr 0.03 with lr = base_lr x
# batch / 256, SGD momentum 0.9 (A4), weight decay 0.005 as printed in Table 8
# (spec A2: 10x the original 5e-4), cosine decay, no warm-up. Batch 512 and 800
# epochs are the spec's defaults where the paper is silent (A1): config
# variables. The LMA twin is
# lma_simsiam_resnet18-cifar_1xb512-coslr-800e_cifar100.py. This is also f_phi,
# the frozen encoder whose features condition the IC-GAN (spec 2.3).
_base_ = ['./_base_/cifar100_lma.py']

base_lr = 0.03
weight_decay = 0.005  # Table 8
num_gpus = 1
batch_per_gpu = 512
batch_size = num_gpus * batch_per_gpu
lr = base_lr * batch_size / 256
max_epochs = 800

model = dict(
    type='SimSiam',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        norm_cfg=dict(type='BN'),
        zero_init_residual=True),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=2048,
        out_channels=2048,
        num_layers=2,
        with_last_bn_affine=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
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
            norm_cfg=dict(type='BN1d'))))

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
