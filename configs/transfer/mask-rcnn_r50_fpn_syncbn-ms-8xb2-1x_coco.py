# Mask R-CNN R50-FPN on COCO 2017, 1x schedule, fine-tuned from a
# self-supervised ResNet-50: the MoCo COCO protocol (detectron2's
# coco_R_50_FPN_1x_moco.yaml) that CLIM reports (box and mask AP on
# val2017). Run it with mmdet 3.x: see docs/transfer.md.
# - all layers trained (frozen_stages=-1), SyncBN in the backbone, the FPN,
#   the 4-conv + 1-fc box head and the mask head;
# - torchvision-style ResNet-50, RGB input normalised by the ImageNet mean /
#   std (the base's);
# - 12 epochs of 16 images (8 GPUs x 2; ~90k iterations), SGD lr 0.02, lr
#   x0.1 at epochs 8 and 11 (the base's schedule);
# - training short side drawn from 640-800 (step 32), testing at 800.
# The 2x schedule: --cfg-options train_cfg.max_epochs=24 \
#     param_scheduler.1.end=24 param_scheduler.1.milestones=[16,22]
# The backbone: the online (query) encoder of a ResNet-50 pretraining run,
# exported without prefix in mmdet's layout:
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_200.pth work_dirs/transfer/resnet50_mmdet.pth \
#       --arch resnet --to mmdet
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

checkpoint = 'work_dirs/transfer/resnet50_mmdet.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)

model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
