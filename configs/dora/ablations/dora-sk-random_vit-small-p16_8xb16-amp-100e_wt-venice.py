# Table 6.7c: random block-wise masks (iBOT style); Sinkhorn-Knopp is
# computed but the masks ignore it, as in the ablation.
_base_ = '../dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

model = dict(use_sk=True, mask_mode='random_blockwise')
