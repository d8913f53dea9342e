# CIFAR-10/100 schedule of the thesis (§3.4.1) and the official code: SGD,
# lr 0.1, momentum 0.9, weight decay 1e-4 (no Nesterov), 2000 epochs, lr x0.1
# at epochs 500, 1000 and 1500, batch 128 on one GPU. Validation after every
# epoch (the official code tracks the best test accuracy).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR',
    by_epoch=True,
    begin=0,
    end=2000,
    milestones=[500, 1000, 1500],
    gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=2000, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
