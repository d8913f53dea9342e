# MoCo v2 + LMA with the original weight decay 5e-4 instead of Table 8's 0.005
# (spec A2: the printed values are 10x the SimSiam / MoCo v2 originals, a
# likely typo); lma_mocov2_resnet18-cifar_1xb512-coslr-800e_cifar10.py
# otherwise.
_base_ = ['./lma_mocov2_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

weight_decay = 5e-4  # the original value (spec A2)
optim_wrapper = dict(optimizer=dict(weight_decay=weight_decay))
