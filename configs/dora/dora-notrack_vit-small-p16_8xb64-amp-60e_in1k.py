# DoRA* for 60 epochs: the thesis' equal-training-time comparison with DINO
# and iBOT at 100 epochs (Table 6.6).
_base_ = './dora-notrack_vit-small-p16_8xb64-amp-100e_in1k.py'

max_epochs = 60
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 10, eta_min=1e-6,
         by_epoch=True, begin=10, end=max_epochs,
         convert_to_iter_based=True),
    dict(type='mmpretrain.CosineAnnealingWeightDecay', eta_min=0.4,
         T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
