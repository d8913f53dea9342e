# Proxy Anchor (PA) loss + Metrix/embed (embeddings mixed; all pairs) on SOP:
# ResNet-50 with d = 512, the thesis recipe; thesis Table 4.3, row "PA
# +Metrix/embed".
_base_ = [
    './_base_/models/resnet50_metrix_proxyanchor.py',
    './_base_/datasets/sop_bs100-20x5.py',
    './_base_/schedules/adamw_lr3e-5-x0.25_100e.py',
    './_base_/default_runtime.py',
]

model = dict(
    loss=dict(loss=dict(num_classes=11318)),  # training classes
    mix_modes=[dict(level='embedding')])
# proxies at lr x 100 (official code)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={'loss_module.loss.proxies': dict(lr_mult=100)}))
