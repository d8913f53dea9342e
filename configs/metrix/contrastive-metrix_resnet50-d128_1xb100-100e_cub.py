# Contrastive loss + Metrix/feature (layer4 feature maps mixed; all pairs) on
# CUB200: ResNet-50 with d = 128, the thesis recipe; the embedding-size
# ablation of thesis Table 4.6 (CUB200, contrastive, d = 128), row "all,
# pos-neg / anc-neg, feature".
_base_ = [
    './_base_/models/resnet50_metrix_contrastive.py',
    './_base_/datasets/cub200_bs100.py',
    './_base_/schedules/adamw_lr1e-4-x0.1_100e.py',
    './_base_/default_runtime.py',
]

model = dict(
    neck=dict(out_channels=128),
    mix_modes=[dict(level='feature')])
