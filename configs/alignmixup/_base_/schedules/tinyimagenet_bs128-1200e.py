# TinyImageNet schedule: SGD, lr 0.1, momentum 0.9, weight decay 1e-4,
# 1200 epochs, lr x0.1 at epochs 600 and 900 (thesis and official code).
# Batch 128 as in the thesis (which ran it on 2 GPUs); the official code's
# default is 256 (spec A8-8). Here 128 on one GPU, so the mixing permutation
# spans the whole batch as with the official DataParallel code; on 2 GPUs use
# 2 x 64 (the permutation then stays within each GPU's 64 images).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR',
    by_epoch=True,
    begin=0,
    end=1200,
    milestones=[600, 900],
    gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=1200, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
