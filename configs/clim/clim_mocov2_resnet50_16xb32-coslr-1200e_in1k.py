# CLIM's headline run: MoCo v2 + CLIM with multi-resolution R = {224, 160},
# 1200 epochs, 16 GPUs x 32 images (batch 512, lr 0.06, cosine): spec Table 1
# (75.5% ImageNet linear top-1), Table 2 (59.3 / 70.0% top-1 with 1% / 10%
# labels) and Table 11 "1200 ep".
_base_ = './_base_/clim_mocov2_resnet50_16xb32-coslr-200e_in1k.py'

max_epochs = 1200
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
