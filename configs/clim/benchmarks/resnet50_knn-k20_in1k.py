# ImageNet-1k weighted k-NN of a frozen ResNet-50 pretrained with CLIM (or
# any mmmix / mmpretrain ResNet-50 whose backbone is under `backbone.`):
# the pooled 2048-d res5 features of the train images are the bank, the
# val images are the queries, L2-normalised, each of the k nearest votes
# with weight exp(cos / 0.07) (InstDisc / DINO's weighted k-NN; k = 10, 20,
# 100, 200, top-1 and top-5 as `knn/top1_k20` ... in the log and in
# <work_dir>/knn_summary.json). Both sets go through Resize 256 + CenterCrop
# 224 (the linear probe's evaluation pipeline). The CLIM paper reports no
# k-NN; this is the cheap check of a checkpoint before the 100-epoch probe.
# mmpretrain has no test loop for k-NN: this config runs the training loop
# for 0 epochs, so `tools/train.py` only loads the weights
# (model.backbone.init_cfg) and KNNEvalHook evaluates once, at the end of
# training. The linear head of the base config is never trained. Another
# checkpoint:
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/<run>/epoch_200.pth
# (tools/analysis/knn_summary.py prints the summary.)
_base_ = ('mmpretrain::mocov2/benchmarks/'
          'resnet50_8xb32-linear-steplr-100e_in1k.py')
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

checkpoint = ('work_dirs/clim_mocov2_resnet50_16xb32-coslr-1200e_in1k/'
              'epoch_1200.pth')
model = dict(
    backbone=dict(
        frozen_stages=4,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')))


def _loader(split):
    return dict(
        batch_size=256,
        num_workers=8,
        persistent_workers=True,
        pin_memory=True,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='mmpretrain.ImageNet',
            data_root='data/imagenet',
            split=split,
            pipeline={{_base_.test_pipeline}}))


# the loop needs a train dataloader to count its (zero) iterations
train_dataloader = _loader('train')
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=0)
param_scheduler = []  # no step (the base's has no end: 0 epochs here)
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
         bank_dataloader=_loader('train'),
         query_dataloader=_loader('val'),
         interval=1,
         num_neighbors=(10, 20, 100, 200),
         topk=(1, 5),
         temperature=0.07)
]
