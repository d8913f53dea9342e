# The LMA paper's linear probe (spec lma.md 4.1, Appendix A.4 [P]; U11): a
# frozen backbone (every stage, the BN statistics in eval mode) and a linear
# classifier on its global-average-pooled features, trained with LARS, base
# lr 0.1 with lr = 0.1 x batch / 256 (1.6 at the paper's batch of 4096, the
# spec's [REC] scaling), momentum 0.9, weight decay 0, cosine decay to 0
# over 90 epochs; top-1 (and top-5) on the test / validation split. The
# dataset configs set the backbone, its checkpoint, the data and how the
# 4096 images of a step split over GPUs; --auto-scale-lr applies the linear
# rule again for another total batch.
_base_ = '../../_base_/ssl_runtime.py'

base_lr = 0.1
total_batch = 4096
max_epochs = 90

model = dict(
    type='ImageClassifier',
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=base_lr * total_batch / 256, momentum=0.9,
                   weight_decay=0.))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.,
         by_epoch=True, begin=0, end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict()
test_cfg = dict()
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
auto_scale_lr = dict(base_batch_size=total_batch)

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
randomness = dict(seed=0, deterministic=False)
