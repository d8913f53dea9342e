# Table 6 (sample selection, 200 epochs, single resolution), row "kmeans",
# column "no mixing": 68.0% ImageNet linear top-1. Selection K-means: the pool
# is every other member of the anchor's cluster (m = 10,000). No mixing: the
# positive is pulled with a plain NCE term, L = NCE(A, A') + NCE(A, P').
_base_ = './_base_/clim-single-res_mocov2_resnet50_16xb32-coslr-200e_in1k.py'

model = dict(mix=False)

custom_hooks = [
    dict(type='mmmix.CLIMHook',
         dataloader={{_base_.clim_dataloader}},
         interval=5,
         start_epoch=0,
         mode='kmeans',
         num_clusters=10000,
         num_neighbors=40,
         pool_size=10)
]
