# ImageNet ResNet-50 recipe of the MultiMix thesis chapter (§5.4.1, spec B4):
# SGD, momentum 0.9, weight decay 1e-4, lr 0.1, x0.1 at epochs 100 and 200;
# 300 epochs are implied by the milestones, not stated (spec B8-12). Batch
# 128 per GPU on 32 GPUs, all hyperparameters "per GPU": global batch 4096
# with lr 0.1, which is inconsistent with the usual linear lr scaling (0.1 per
# 256); kept as stated and flagged (B8-12). No Nesterov (not stated). The
# AlignMixup ImageNet bases do not match (lr 0.01/0.1 split at batch 100, or
# Nesterov with x0.1 every 75 epochs at batch 1024).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
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
