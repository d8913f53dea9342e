# Table 6 (sample selection, 200 epochs, single resolution), row "knn", column
# "+ cutmix": 69.5% ImageNet linear top-1. Selection KNN (k = 10): the pool is
# the 10 nearest neighbours.
_base_ = './_base_/clim-single-res_mocov2_resnet50_16xb32-coslr-200e_in1k.py'

custom_hooks = [
    dict(type='mmmix.CLIMHook',
         dataloader={{_base_.clim_dataloader}},
         interval=5,
         start_epoch=0,
         mode='knn',
         num_clusters=10000,
         num_neighbors=10,
         pool_size=10)
]
