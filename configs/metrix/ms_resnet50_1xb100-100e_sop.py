# Multi-similarity (MS) loss + no mixup (the baseline) on SOP: ResNet-50 with
# d = 512, the thesis recipe; thesis Table 4.3, row "MS".
_base_ = [
    './_base_/models/resnet50_metrix_ms.py',
    './_base_/datasets/sop_bs100-20x5.py',
    './_base_/schedules/adamw_lr3e-5-x0.25_100e.py',
    './_base_/default_runtime.py',
]

model = dict(
    mix_modes=[dict(level='none')])
