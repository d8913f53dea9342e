# The SimSiam baseline of the CLIM comparison on Fashion-MNIST (CPU):
# mmpretrain's SimSiam config on the MoCo v2 Fashion baseline's network,
# views and data (mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py: a
# CIFAR-style ResNet-18 of width 16 on 28x28 grey images, crops (0.5, 1) +
# brightness jitter + flip, the first 20,000 training images, 3 epochs), and
# its k-NN evaluation (bank: the 60,000 labelled training images; queries:
# the 10,000 test images). The projector (3 layers, 512-d) and predictor
# (bottleneck 128) are scaled down with the network. SGD lr 0.03 (SimSiam's
# CIFAR rule 0.03 x 256 / 256), wd 5e-4, cosine over all parameters: the
# predictor's fixed lr (`fix_lr` + SimSiamHook) is dropped, because the
# config tests admit only lr_mult / decay_mult in paramwise custom_keys.
_base_ = [
    'mmpretrain::simsiam/simsiam_resnet50_8xb32-coslr-100e_in1k.py',
    './_base_/fashionmnist-20k_ssl.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

max_epochs = 3  # fmnist_epochs
batch_size = 256
width = 16  # ResNet base width; the last stage has 8 * width channels

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=width,
        base_channels=width,
        norm_cfg=dict(type='BN'),
        zero_init_residual=True),
    neck=dict(in_channels=8 * width, hid_channels=512, out_channels=512),
    head=dict(
        predictor=dict(in_channels=512, hid_channels=128, out_channels=512)))

data_root = {{_base_.fmnist_data_root}}  # the inherited top-level variable
data_preprocessor = {{_base_.fmnist_data_preprocessor}}

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=1,
    persistent_workers=True,
    dataset={{_base_.fmnist_train_dataset}})

custom_hooks = [{{_base_.fmnist_knn_hook}}]

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=5e-4, momentum=0.9))
param_scheduler = {{_base_.fmnist_param_scheduler}}
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(base_batch_size=256)
