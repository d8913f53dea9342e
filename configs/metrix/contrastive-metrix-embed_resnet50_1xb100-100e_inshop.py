# Contrastive loss + Metrix/embed (embeddings mixed; all pairs) on In-Shop:
# ResNet-50 with d = 512, the thesis recipe; thesis Table 4.3, row "Cont
# +Metrix/embed".
_base_ = [
    './_base_/models/resnet50_metrix_contrastive.py',
    './_base_/datasets/inshop_bs100-20x5.py',
    './_base_/schedules/adamw_lr1e-4-x0.25_100e.py',
    './_base_/default_runtime.py',
]

model = dict(
    mix_modes=[dict(level='embedding')])
