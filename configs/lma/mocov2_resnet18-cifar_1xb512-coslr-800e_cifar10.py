# MoCo v2 with handcrafted augmentation only (alpha = 0): the LMA paper's
# baseline on CIFAR-10 (spec lma.md 2.9, 3.3, Table 8): 32 px input, the CIFAR
# ResNet-18 and a 512-512-128 MLP head; K, tau, m: the spec's CIFAR choices
# 4096 / 0.2 / 0.99 (spec 3.3 [REC]). Base lr 0.03 with lr = base_lr x batch /
# 256, SGD momentum 0.9 (A4), weight decay 0.005 as printed in Table 8 (spec
# A2: 10x the original 5e-4; see the -wd5e-4 twin), cosine decay, no warm-up.
# Batch 512 and 800 epochs are the spec's defaults where the paper is silent
# (A1): config variables. The LMA twin is
# lma_mocov2_resnet18-cifar_1xb512-coslr-800e_cifar10.py.
_base_ = ['./_base_/cifar10_lma.py']

base_lr = 0.03
weight_decay = 0.005  # Table 8
num_gpus = 1
batch_per_gpu = 512
batch_size = num_gpus * batch_per_gpu
lr = base_lr * batch_size / 256
max_epochs = 800
queue_len = 4096  # K; a multiple of the batch
momentum = 0.01  # 1 - m: key encoder EMA m = 0.99
temperature = 0.2  # tau

model = dict(
    type='MoCo',
    queue_len=queue_len,
    feat_dim=128,
    momentum=momentum,
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=512,
        hid_channels=512,
        out_channels=128,
        with_avg_pool=True),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=temperature))

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
# --auto-scale-lr rescales lr linearly from this total batch
auto_scale_lr = dict(base_batch_size=batch_size)
