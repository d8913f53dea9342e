# ImageNet ViT-S/16 recipe of the MultiMix thesis chapter (§5.4.1, spec B4):
# AdamW "with default parameters" (PyTorch defaults: betas (0.9, 0.999), eps
# 1e-8, weight decay 0.01), initial lr 0.01, x0.1 at epochs 100 and 200, 300
# epochs (implied), batch 128 per GPU on 32 GPUs, no warmup.
#
# SUSPICIOUS (spec B8-11): lr 0.01 for AdamW on a ViT without warmup is
# unusually high (DeiT uses 5e-4 x batch/512 with 5 warmup epochs and
# cosine decay) and may diverge; the epoch count and weight decay are not
# given. Implemented as stated; treat the ViT numbers as low-confidence
# targets. A DeiT-style alternative, commented out:
#
# optim_wrapper = dict(
#     type='OptimWrapper',
#     optimizer=dict(type='AdamW', lr=5e-4 * 4096 / 512, weight_decay=0.05),
#     paramwise_cfg=dict(
#         norm_decay_mult=0.0, bias_decay_mult=0.0, custom_keys={
#             '.cls_token': dict(decay_mult=0.0),
#             '.pos_embed': dict(decay_mult=0.0)}),
#     clip_grad=dict(max_norm=5.0))
# param_scheduler = [
#     dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
#          end=5, convert_to_iter_based=True),
#     dict(type='CosineAnnealingLR', T_max=295, eta_min=1e-5, by_epoch=True,
#          begin=5, end=300)]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=0.01, betas=(0.9, 0.999), eps=1e-8,
        weight_decay=0.01))
param_scheduler = dict(
    type='MultiStepLR',
    by_epoch=True,
    begin=0,
    end=300,
    milestones=[100, 200],
    gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=4096)
