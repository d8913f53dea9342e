# DoRA* (objects discovered, not tracked: images are clips of one frame) on
# ImageNet-1k with ViT-S/16: DINO's ImageNet recipe (configs/dino) with the
# student's two global crops replaced by 3 masked crops each (spec A13: 2
# global views, 6 local crops at 96 px, 3 objects per global view).
_base_ = '../dino/dino_vit-small-p16_8xb64-100e_in1k.py'

num_local = 6
model = dict(
    type='DoRA',
    num_global_views=2,
    num_objects=3,
    backbone=dict(out_type='raw'))
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=[1, 1, num_local],
             transforms=[{{_base_.global_1}}, {{_base_.global_2}},
                         {{_base_.local}}]),
        dict(type='PackInputs'),
    ]))
