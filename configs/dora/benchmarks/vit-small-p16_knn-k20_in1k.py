# ImageNet-1k weighted k-NN of a DINO / DoRA ViT-S/16 teacher (spec dora.md
# §6, second row; the "k-NN" column of Tables 6.5 and 6.6): the frozen
# teacher's [CLS] (after the final norm, L2-normalised by the hook) of the
# train images is the bank, the val images are the queries, each vote
# weighs exp(cos / 0.07); DINO's eval_knn.py computes k = 10, 20, 100, 200
# and the thesis reports k = 20 (`knn/top1_k20` in the log and in
# <work_dir>/knn_summary.json). Both sets go through Resize 256 (bicubic) +
# CenterCrop 224, as in DINO.
# There is no test loop for k-NN in mmpretrain: this config runs the
# training loop for 0 epochs, so `tools/train.py` only loads the teacher
# (model.backbone.init_cfg) and KNNEvalHook evaluates once, at the end of
# training. The linear head of the base config is never trained; it only
# gives the optimiser a parameter. The checkpoint, as in the linear config:
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_100.pth work_dirs/<run>/teacher.pth --teacher
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/<run>/teacher.pth
# (tools/analysis/knn_summary.py prints the summary.)
_base_ = './vit-small-p16_linear-8xb128-coslr-100e_in1k.py'


def _loader(split):
    return dict(
        batch_size=256,
        num_workers=10,
        persistent_workers=True,
        pin_memory=True,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='mmpretrain.ImageNet',
            data_root={{_base_.data_root}},
            split=split,
            pipeline={{_base_.test_pipeline}}))


# the loop needs a train dataloader to count its (zero) iterations
train_dataloader = _loader('train')
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=0)
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
