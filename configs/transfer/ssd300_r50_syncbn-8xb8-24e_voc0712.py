# SSD300 on PASCAL VOC07+12 with a ResNet-50 backbone pretrained on
# ImageNet by a mixup method (AlignMixup / MultiMix, spec
# alignmixup_multimix.md Table 5.5, "following CutMix": mAP on VOC2007 test).
# The thesis gives no fine-tuning schedule, so this is mmdet's SSD300 VOC
# recipe (the base) with the VGG-16 replaced by a ResNet-50:
# - the backbone is res2-res4 of a torchvision-style ResNet-50
#   (num_stages=3); SSD reads res3 (512 channels, stride 8: 38x38 at 300 px)
#   and res4 (1024 channels, stride 16: 19x19), the sizes and channels of
#   VGG-16's conv4_3 / fc7 that the base's SSDNeck and anchors expect; the
#   neck adds the 10x10, 5x5, 3x3 and 1x1 levels;
# - all layers trained, SyncBN in the backbone (8 images per GPU);
# - RGB input normalised by the ImageNet mean / std (the base divides by
#   1, for VGG's caffe weights);
# - the base's schedule: SGD lr 1e-3, momentum 0.9, weight decay 5e-4,
#   64 images a step (8 GPUs x 8), 24 epochs over the training set repeated
#   10 times, lr x0.1 at epochs 16 and 20; 11-point mAP at IoU 0.5.
# The backbone: a classifier checkpoint (`backbone.` of MixupClassifier;
# res5 is exported too and not loaded):
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_300.pth work_dirs/transfer/resnet50_mmdet.pth \
#       --arch resnet --to mmdet
_base_ = 'mmdet::pascal_voc/ssd300_voc0712.py'

checkpoint = 'work_dirs/transfer/resnet50_mmdet.pth'

model = dict(
    data_preprocessor=dict(std=[58.395, 57.12, 57.375]),
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(1, 2),
        frozen_stages=-1,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)))
