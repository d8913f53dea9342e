# MoCo v2 + CLIM with multi-resolution R = {224, 160}, 200 epochs, 16 GPUs x
# 32 images: spec Table 7 "Multi-Reso {224, 160}" and Table 11 "200 ep",
# 72.3% ImageNet linear top-1 (MoCo v2 at 200 epochs: 67.5%). The recipe is
# described in the base.
_base_ = './_base_/clim_mocov2_resnet50_16xb32-coslr-200e_in1k.py'
