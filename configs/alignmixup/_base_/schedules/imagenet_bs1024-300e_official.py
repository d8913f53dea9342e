# ImageNet recipe of the official AlignMixup code (imagenet/main.py and its
# README): SGD with Nesterov momentum 0.9, weight decay 1e-4, a single lr of
# 0.1 for all layers, 300 epochs, lr x0.1 every 75 epochs, batch 1024. The
# official code runs the 1024 images in one DataParallel process; here it is
# 8 GPUs x 128 with DDP, so the mixing permutation stays within each GPU's
# 128 images (spec A8-8). Note lr 0.1 at batch 1024 is the code's value,
# not a linearly scaled one.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True))
param_scheduler = dict(
    type='MultiStepLR',
    by_epoch=True,
    begin=0,
    end=300,
    milestones=[75, 150, 225],
    gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)
