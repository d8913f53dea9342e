# ImageNet linear evaluation of a SimSiam + CLIM or BYOL + CLIM ResNet-50
# (mmmix extensions, configs/clim/README.md) with the linear protocol of
# their base methods, so that the numbers compare with mmpretrain's SimSiam
# and BYOL: mmpretrain's SimSiam / BYOL linear benchmark (the two are the
# same file) with the pretrained weights pointed at a CLIM run. Frozen
# backbone (all 4 stages and BN), a linear classifier on the pooled 2048-d
# features; LARS lr 1.6, momentum 0.9, weight decay 0, cosine over 90
# epochs, 4096 images a step (8 GPUs x 512); RandomResizedCrop 224 + flip,
# top-1 of Resize 256 + CenterCrop 224. The MoCo v2 + CLIM runs use
# resnet50_8xb32-linear-steplr-100e_in1k.py (the paper's probe). The default
# checkpoint is the SimSiam + CLIM run; BYOL + CLIM:
#   --cfg-options model.backbone.init_cfg.checkpoint=\
#   work_dirs/clim_byol_resnet50_16xb256-coslr-200e_in1k/epoch_200.pth
# (both keep the online backbone under `backbone.`).
_base_ = ('mmpretrain::simsiam/benchmarks/'
          'resnet50_8xb512-linear-coslr-90e_in1k.py')
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

checkpoint = ('work_dirs/clim_simsiam_resnet50_8xb32-coslr-100e_in1k/'
              'epoch_100.pth')
model = dict(
    backbone=dict(
        frozen_stages=4,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')))
auto_scale_lr = dict(base_batch_size=4096)
