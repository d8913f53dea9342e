# Table 8 (m clusters x k neighbours, 200 epochs, single resolution): m =
# 20000, k = 20: 69.6% ImageNet linear top-1.
_base_ = './_base_/clim-single-res_mocov2_resnet50_16xb32-coslr-200e_in1k.py'

custom_hooks = [
    dict(type='mmmix.CLIMHook',
         dataloader={{_base_.clim_dataloader}},
         interval=5,
         start_epoch=0,
         mode='center_wise',
         num_clusters=20000,
         num_neighbors=20,
         pool_size=10)
]
