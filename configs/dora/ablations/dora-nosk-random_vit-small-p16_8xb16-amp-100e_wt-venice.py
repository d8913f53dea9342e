# Table 6.7c: random block-wise masks (iBOT style), no Sinkhorn-Knopp.
_base_ = '../dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

model = dict(use_sk=False, mask_mode='random_blockwise')
