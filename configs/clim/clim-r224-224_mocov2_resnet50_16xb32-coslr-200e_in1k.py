# Table 7 (multi-resolution, 200 epochs): R = {224, 224}, 71.4% ImageNet linear
# top-1 (R = {224, 160}: 72.3%,
# clim_mocov2_resnet50_16xb32-coslr-200e_in1k.py). Two 224 copies of each crop
# that differ only by their photometric draws (the control).
_base_ = './_base_/clim_mocov2_resnet50_16xb32-coslr-200e_in1k.py'

scales = (224, 224)
model = dict(num_resolutions=len(scales))
views = dict(scales=scales)
train_dataloader = dict(
    dataset=dict(
        dataset=dict(pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='mmmix.MultiResolutionViews',
                 num_views=2,
                 scales=scales,
                 crop_ratio_range=(0.2, 1.),
                 flip_prob=0.5,
                 interpolation='bilinear',
                 backend='pillow',
                 transforms={{_base_.clim_photometric}}),
            dict(type='PackInputs'),
        ])))
