# Contrastive loss + no mixup on CUB200: ResNet-50 with d = 128, the thesis
# recipe; the baseline row of the embedding-size ablation of thesis
# Table 4.6 (CUB200, contrastive, d = 128).
_base_ = [
    './_base_/models/resnet50_metrix_contrastive.py',
    './_base_/datasets/cub200_bs100.py',
    './_base_/schedules/adamw_lr1e-4-x0.1_100e.py',
    './_base_/default_runtime.py',
]

model = dict(
    neck=dict(out_channels=128),
    mix_modes=[dict(level='none')])
