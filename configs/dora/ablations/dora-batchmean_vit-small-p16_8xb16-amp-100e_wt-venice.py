# The released code's mask threshold: the mean over the whole per-GPU
# batch (so masks depend on the batch size; the default thresholds per
# sample).
_base_ = '../dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

model = dict(mask_mode='binary_batch_mean')
