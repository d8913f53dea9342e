# The DINO baseline on clips (spec A10, Table 6.7b row 'x'): the same clip
# sampling and views, no objects: the student sees the unmasked global crop.
_base_ = '../dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

model = dict(num_objects=0)
