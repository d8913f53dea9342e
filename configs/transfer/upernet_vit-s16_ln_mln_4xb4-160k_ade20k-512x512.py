# UperNet with a ViT-S/16 on ADE20k (512x512 crops, 160k iterations),
# fine-tuned from a DINO / DoRA teacher: the dense-prediction protocol of
# the DoRA thesis (spec dora.md §6: "UperNet, iBOT settings", Table 6.3,
# mIoU). Run it with mmseg 1.x: see docs/transfer.md.
# The base is mmseg's ViT-S UperNet (the DeiT-S row of its ViT table), which
# already has the thesis' optimisation: AdamW lr 6e-5, weight decay 0.01
# (none on positions, [CLS] and norms), linear warm-up over 1500
# iterations, then linear decay to 0 at 160k. Changes:
# - the backbone starts from the exported teacher (init_cfg) instead of
#   DeiT-S; mmseg's ViT resizes the 14x14 position grid to 32x32
#   (bicubic) when it loads it;
# - patch_bias=True: mmseg 1.x's ViT has no patch-embedding bias by default
#   and would drop the teacher's (mmpretrain's ViT has one; mmseg loads
#   non-strictly, so it would be skipped without a word);
# - features after blocks 4, 6, 8 and 12 (out_indices 3, 5, 7, 11: iBOT's /
#   BEiT's choice; mmseg's ViT configs take 3, 6, 9, 12), rescaled x4, x2,
#   x1, x0.5 by mmseg's MultiLevelNeck (iBOT uses deconvolutions);
# - 16 images a step as 4 GPUs x 4: the thesis' "batch size 4" read as
#   per GPU (iBOT's segmentation runs; the base runs 8 x 2); no layer-wise
#   lr decay (not stated in the thesis).
# The teacher: export it in mmseg's layout (attention weights renamed for
# mmcv's MultiheadAttention; mmseg's ViT loads non-strictly and would skip
# mmpretrain's names silently):
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/<run>/epoch_100.pth \
#       work_dirs/transfer/vit-small-p16_mmseg.pth \
#       --teacher --arch vit --to mmseg
_base_ = 'mmseg::vit/vit_deit-s16-ln_mln_upernet_8xb2-160k_ade20k-512x512.py'

checkpoint = 'work_dirs/transfer/vit-small-p16_mmseg.pth'

model = dict(
    pretrained=None,
    backbone=dict(
        patch_bias=True,
        out_indices=(3, 5, 7, 11),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)))
train_dataloader = dict(batch_size=4)
