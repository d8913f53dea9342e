# ImageNet-1k weighted k-NN monitor of a frozen LMA (or alpha = 0 baseline)
# ResNet-50 (spec lma.md 4.2): NOT the paper's metric (the paper reports no
# k-NN; compare its numbers with the linear probe only). The bank is the
# labelled training set, the queries the 50,000 validation images, both
# through the linear probe's test pipeline (the _base_ config); pooled
# backbone features, L2-normalised; each of the k nearest neighbours votes
# with weight exp(cos / 0.1), k = 20 and 200 (the spec's monitor: k = 200 and
# temperature 0.1), top-1 / top-5 as `knn/top1_k200` ... in the log and in
# <work_dir>/knn_summary.json.
# There is no test loop for k-NN in mmpretrain: this config runs the
# training loop for 0 epochs, so `tools/train.py` only loads the weights
# (model.backbone.init_cfg, the exported backbone as in the linear config)
# and KNNEvalHook evaluates once, at the end of training; the linear head
# is never trained. Another checkpoint:
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/<run>/backbone.pth
_base_ = './resnet50_8xb512-linear-lars-coslr-90e_in1k.py'


def _loader(dataset):
    return dict(
        batch_size=256,
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
         num_neighbors=(20, 200),
         topk=(1, 5),
         temperature=0.1)
]
