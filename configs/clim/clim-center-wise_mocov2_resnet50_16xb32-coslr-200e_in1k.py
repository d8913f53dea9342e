# Table 6 (sample selection, 200 epochs, single resolution), row "center-wise",
# column "+ cutmix": 70.1% ImageNet linear top-1. Selection Center-wise: the
# centre-wise rule of Eq. 2 (m = 10,000, k = 40, pool 10).
_base_ = './_base_/clim-single-res_mocov2_resnet50_16xb32-coslr-200e_in1k.py'
