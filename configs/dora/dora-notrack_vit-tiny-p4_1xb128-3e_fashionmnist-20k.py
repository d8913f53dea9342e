# DoRA* (discovery without tracking) on Fashion-MNIST (CPU), everything else
# as the DINO baseline it is compared with (same tiny ViT, views, optimiser,
# schedule and k-NN evaluation): per image, 3 objects found from 3 random
# heads of the teacher's last block, refined by Sinkhorn-Knopp, masked from
# each of the 2 global crops; the student sees the 6 masked crops instead
# of the 2 global ones, plus the 4 local crops.
_base_ = '../dino/dino_vit-tiny-p4_1xb128-3e_fashionmnist-20k.py'

model = dict(
    type='DoRA',
    num_global_views=2,  # images: DINO's two global crops (spec A13)
    num_objects=3,
    backbone=dict(out_type='raw'))
