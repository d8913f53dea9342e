# Table 6.7b: 2 objects tracked (k = 3 is the default).
_base_ = '../dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

model = dict(num_objects=2)
