# The released code's loss weighting (spec 3.11: the object accumulator
# is not reset and the first local crop gets no weight).
_base_ = '../dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

model = dict(loss_mode='legacy_code')
