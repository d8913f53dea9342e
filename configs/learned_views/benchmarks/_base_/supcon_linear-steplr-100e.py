# The SupContrast linear probe (spec assimilating_views.md 7, A22: the
# paper's CIFAR-100 / TinyImageNet protocol gives only 100 epochs and the
# best accuracy; the rest is the SupContrast README's SimCLR command,
# `main_linear.py --batch_size 512 --learning_rate 1`, at the script's
# defaults): a frozen backbone (BN statistics in eval mode) and a linear
# classifier on its average-pooled features; SGD lr 1.0, momentum 0.9,
# weight decay 0, 512 images a step, x0.2 at epochs 60, 75 and 90, 100
# epochs, no warm-up, no cosine. The script's data: RandomResizedCrop
# (area 0.2-1) + flip for training, the plain test image for testing. The
# accuracy is measured every epoch; the best top-1 checkpoint is kept (what
# the paper reports) besides the last (spec A22: report both; the log has
# every epoch). The dataset configs set the backbone, its checkpoint and
# the data.
_base_ = '../../_base_/ssl_runtime.py'

lr = 1.0
batch_size = 512  # 1 GPU
max_epochs = 100

model = dict(
    type='ImageClassifier',
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[60, 75, 90],
         gamma=0.2)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict()
test_cfg = dict()
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
auto_scale_lr = dict(base_batch_size=batch_size)

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1,
                    save_best='accuracy/top1', rule='greater'))
randomness = dict(seed=0, deterministic=False)
