# Multi-similarity (MS) loss + no mixup (the baseline) on CUB200: ResNet-50
# with d = 512, the thesis recipe; thesis Table 4.3, row "MS".
_base_ = [
    './_base_/models/resnet50_metrix_ms.py',
    './_base_/datasets/cub200_bs100.py',
    './_base_/schedules/adamw_lr1e-4-x0.5_100e.py',
    './_base_/default_runtime.py',
]

model = dict(
    mix_modes=[dict(level='none')])
