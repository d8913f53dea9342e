# Eq. 6.8-6.9 as written: a sum over the pairs instead of DINO-style
# means (per-tensor clipping at 3.0 makes the scale matter).
_base_ = '../dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

model = dict(loss_mode='thesis_sum')
