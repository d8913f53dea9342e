# Table 6.7c: object masks from the raw prototypes (Eq. 6.3, no
# Sinkhorn-Knopp).
_base_ = '../dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

model = dict(use_sk=False)
