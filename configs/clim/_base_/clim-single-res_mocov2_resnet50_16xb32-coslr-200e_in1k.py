# MoCo v2 + CLIM without multi-resolution (one 224 px copy per view), 200
# epochs: the base of the selection (Table 6), m x k (Table 8) and alpha
# (Table 9) ablations. As is, it is Table 6's "Center-wise + cutmix" row,
# 70.1% ImageNet linear top-1.
_base_ = './clim_mocov2_resnet50_16xb32-coslr-200e_in1k.py'

scales = (224, )
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
