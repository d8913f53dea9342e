# BYOL on CIFAR-10: the baseline of the BYOL + A2 extrapolation
# (a2-*_byol_resnet18-cifar_1xb512-coslr-800e_cifar10.py; BYOL is not in
# "On Assimilating Learned Views", spec 5.4). The CIFAR-10 data, views and
# schedule of the SimSiam / MoCo v2 CIFAR recipe the other extrapolations
# use (configs/lma/simsiam-wd5e-4_resnet18-cifar_1xb512-coslr-800e_
# cifar10.py: the CIFAR ResNet-18, crops (0.2, 1) + colour jitter + grey +
# flip at 32 px, batch 512, SGD lr 0.03 x 512 / 256 momentum 0.9, weight
# decay 5e-4, cosine over 800 epochs) with BYOL's heads (512-4096-256
# projector, 256-4096-256 predictor, no last BN) and a target network
# EMA from 0.996 to 1 (cosine, mmpretrain's BYOL).
_base_ = ['../lma/_base_/cifar10_lma.py']

base_lr = 0.03
weight_decay = 5e-4
num_gpus = 1
batch_per_gpu = 512
batch_size = num_gpus * batch_per_gpu
lr = base_lr * batch_size / 256
max_epochs = 800

model = dict(
    type='BYOL',
    base_momentum=0.004,  # 1 - 0.996
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,
            hid_channels=4096,
            out_channels=256,
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=False,
            norm_cfg=dict(type='BN1d'))))

train_dataloader = dict(batch_size=batch_per_gpu)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=lr, weight_decay=weight_decay, momentum=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=batch_size)
