# TinyImageNet (64 px) weighted k-NN of a frozen learned-views (or baseline)
# SimCLR CIFAR ResNet-18 (spec assimilating_views.md 7, A23): the paper's
# "5-NN" accuracy, reported beside the linear probe, as the code's
# InstDisc-style monitor: the bank is the labelled training set, the queries
# the 10,000 validation images, both through the linear probe's test pipeline
# (the _base_ config); pooled backbone features, L2-normalised; each of the k
# nearest neighbours votes with weight exp(cos / 0.1); k = 5 (the paper's,
# `knn/top1_k5` in the log and in <work_dir>/knn_summary.json) and 200 (the
# code's monitor).
# There is no test loop for k-NN in mmpretrain: this config runs the
# training loop for 0 epochs, so `tools/train.py` only loads the weights
# (model.backbone.init_cfg, the exported backbone as in the linear config)
# and KNNEvalHook evaluates once, at the end of training; the linear head
# is never trained. Another checkpoint:
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/<run>/backbone.pth
_base_ = './resnet18-cifar_1xb512-linear-steplr-100e_tinyimagenet64.py'


def _loader(dataset):
    return dict(
        batch_size=512,
        num_workers=8,
        persistent_workers=True,
        pin_memory=True,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dataset)


# the loop needs a train dataloader to count its (zero) iterations
train_dataloader = _loader({{_base_.train_set}})
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=0)
param_scheduler = []  # no step
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(checkpoint=dict(_delete_=True, type='CheckpointHook',
                                     interval=1))
custom_hooks = [
    dict(type='mmmix.KNNEvalHook',
         bank_dataloader=_loader({{_base_.train_set}}),
         query_dataloader=_loader({{_base_.test_set}}),
         interval=1,
         num_neighbors=(5, 200),
         topk=(1, 5),
         temperature=0.1)
]
