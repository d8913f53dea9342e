# Faster R-CNN R50-C4 on PASCAL VOC07+12, fine-tuned from a self-supervised
# ResNet-50: the MoCo detection protocol (detectron2's
# pascal_voc_R_50_C4_24k_moco.yaml) that CLIM, InterCLR and LMA report
# (AP50 / AP / AP75 on VOC2007 test). Run it with mmdet 3.x (an mmdet
# environment with mmpretrain installed, for ResLayerExtraNorm): see
# docs/transfer.md.
# - all layers trained (frozen_stages=-1), SyncBN in the backbone and in the
#   res5 box head, which also gets a norm after res5 (mmpretrain's
#   ResLayerExtraNorm = detectron2's Res5ROIHeadsExtraNorm);
# - torchvision-style ResNet (style='pytorch': stride in the 3x3 conv), RGB
#   input normalised by the ImageNet mean / std, as the pretraining saw it;
# - 24k iterations of 16 images (8 GPUs x 2), SGD lr 0.02, momentum 0.9,
#   weight decay 1e-4, linear warm-up over 100 iterations, lr x0.1 at 18k
#   and 22k;
# - training short side drawn from 480-800 (step 32), testing at 800
#   (the base's pipelines);
# - VOC2007 test, 11-point AP (detectron2's VOC2007 metric) at IoU
#   0.50:0.05:0.95: `AP50`, `AP75` and their mean `mAP` (MoCo's AP).
# Not reproduced: detectron2's precise BN statistics before testing.
# The backbone: the online (query) encoder of a ResNet-50 pretraining run,
# exported without prefix in mmdet's layout (the stem and res2-res4 load
# into the backbone, res5 into the box head, from the same file):
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_200.pth work_dirs/transfer/resnet50_mmdet.pth \
#       --arch resnet --to mmdet
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'

checkpoint = 'work_dirs/transfer/resnet50_mmdet.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
max_iter = 24000

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    roi_head=dict(
        shared_head=dict(
            type='ResLayerExtraNorm',
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            init_cfg=dict(type='Pretrained', checkpoint=checkpoint))))

train_cfg = dict(max_iters=max_iter, val_interval=4000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iter,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1)
]
val_evaluator = dict(
    type='VOCMetric',
    metric='mAP',
    eval_mode='11points',
    iou_thrs=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))

custom_imports = dict(
    imports=['mmpretrain.models.utils.res_layer_extra_norm'],
    allow_failed_imports=False)
