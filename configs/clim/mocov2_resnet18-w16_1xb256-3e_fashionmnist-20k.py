# The MoCo v2 baseline of the CLIM comparison on Fashion-MNIST (CPU): the
# quickstart's network, views and optimiser, pretrained for 3 epochs on the
# first 20,000 training images (a budget that fits three seeds of three
# methods on two CPU cores); k-NN top-1 uses all 60,000 labelled training
# images as the bank and the 10,000 test images as queries.
_base_ = [
    '../quickstart/mocov2_resnet18-w16_1xb256-4e_fashionmnist.py',
    './_base_/fashionmnist-20k_ssl.py',
]

train_dataloader = dict(dataset=dict(indices=20000))
custom_hooks = [{{_base_.fmnist_knn_hook}}]
param_scheduler = {{_base_.fmnist_param_scheduler}}
train_cfg = dict(max_epochs=3)
