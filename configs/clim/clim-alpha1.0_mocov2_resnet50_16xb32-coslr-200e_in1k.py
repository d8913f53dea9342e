# Table 9 (CutMix alpha, 200 epochs, single resolution): lam ~ Beta(1.0, 1.0),
# 69.7% ImageNet linear top-1 (alpha = 2.0, the default: 70.1%).
_base_ = './_base_/clim-single-res_mocov2_resnet50_16xb32-coslr-200e_in1k.py'

model = dict(alpha=1.0)
