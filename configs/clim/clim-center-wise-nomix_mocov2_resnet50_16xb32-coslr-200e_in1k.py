# Table 6 (sample selection, 200 epochs, single resolution), row "center-wise",
# column "no mixing": 69.3% ImageNet linear top-1. Selection Center-wise: the
# centre-wise rule of Eq. 2 (m = 10,000, k = 40, pool 10). No mixing: the
# positive is pulled with a plain NCE term, L = NCE(A, A') + NCE(A, P').
_base_ = './_base_/clim-single-res_mocov2_resnet50_16xb32-coslr-200e_in1k.py'

model = dict(mix=False)

custom_hooks = [
    dict(type='mmmix.CLIMHook',
         dataloader={{_base_.clim_dataloader}},
         interval=5,
         start_epoch=0,
         mode='center_wise',
         num_clusters=10000,
         num_neighbors=40,
         pool_size=10)
]
