# ProxyNCA++ loss + Metrix/feature (layer4 feature maps mixed; all pairs) on
# Cars196: ResNet-50 with d = 512, the thesis recipe; thesis Table 4.3, row
# "ProxyNCA++ +Metrix".
_base_ = [
    './_base_/models/resnet50_metrix_proxyncapp.py',
    './_base_/datasets/cars196_bs100.py',
    './_base_/schedules/adamw_lr1e-4-x0.5_100e.py',
    './_base_/default_runtime.py',
]

model = dict(
    loss=dict(loss=dict(num_classes=98)),  # training classes
    mix_modes=[dict(level='feature')])
# proxies at lr x 100 (official code)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={'loss_module.loss.proxies': dict(lr_mult=100)}))
