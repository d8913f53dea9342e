# MoCo v2 + CLIM with multi-resolution R = {224, 160}, 800 epochs, 16 GPUs x
# 32 images: spec Table 11 "800 ep", 75.2% ImageNet linear top-1.
_base_ = './_base_/clim_mocov2_resnet50_16xb32-coslr-200e_in1k.py'

max_epochs = 800
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
