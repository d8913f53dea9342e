# CLIM without multi-resolution (one 28 px copy per view): Table 6's
# "center-wise + cutmix" row on Fashion-MNIST.
_base_ = './clim_mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py'

model = dict(num_resolutions=1)
train_dataloader = dict(
    dataset=dict(dataset=dict(pipeline=[
        dict(type='mmmix.MultiResolutionViews',
             num_views=2,
             scales=(28, ),
             crop_ratio_range=(0.5, 1.),
             flip_prob=0.5,
             transforms={{_base_.clim_photometric}}),
        dict(type='PackInputs'),
    ])))
