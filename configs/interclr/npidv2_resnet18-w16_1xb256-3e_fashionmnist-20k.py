# NPIDv2 (InterCLR's NPID baseline: a 2-layer MLP head) on Fashion-MNIST
# (CPU): the MoCo v2 Fashion baseline's network, optimiser, data and k-NN
# evaluation (../clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py),
# one view per image, a memory of the 20,000 training images (momentum 0.5,
# the online embeddings), K = 1,024 negatives drawn uniformly from it,
# temperature 0.1. The memory starts random and travels in checkpoints
# (MemoryBankHook). Blur and colour jitter of NPIDv2 are left out: mmcv's
# saturation and hue need 3 channels, and a 28 px garment has little to
# blur.
_base_ = [
    '../clim/mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py',
    './_base_/interclr_fashionmnist-20k.py',
]

model = dict(
    _delete_=True,
    type='mmmix.NPID',
    data_preprocessor={{_base_.fmnist_data_preprocessor}},
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    # NPIDv2's 2-layer MLP (fc-ReLU-fc, OpenSelfSup's NonLinearNeckV1)
    neck=dict(type='MoCoV2Neck', in_channels=128, hid_channels=512,
              out_channels=128, with_avg_pool=True),
    head=dict(type='mmmix.MarginNCEHead', temperature=0.1, margin=0.),
    memory=dict(type='mmmix.PseudoLabelMemory', length=20000, feat_dim=128,
                momentum=0.5),
    num_negatives=1024)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='MultiView', num_views=1,
         transforms=[{{_base_.fmnist_view_pipeline}}]),
    dict(type='PackInputs'),
]))
custom_hooks = [{{_base_.fmnist_knn_hook}}, dict(type='mmmix.MemoryBankHook')]
