# MultiMix: ResNet-50 on ImageNet-1k.
#
# Targets thesis Table 5.3, MultiMix row, column R-50: top-1 accuracy 78.81%.
#
# Each mini-batch (thesis §5.4.1, spec B3.3, B8-4): with probability 1/2 input
# mixup (alpha_in = 2.0, inherited from AlignMixup: unverified, spec B8-3),
# otherwise MultiMix at the deepest layer: the mixed examples are built at the
# logits of the linear head, which equals mixing the head's input (the pooled
# embedding; the columns of Lambda sum to one), with soft CE over the n mixed
# examples only. n = 1000, m = b (the whole batch), lambda_k ~ Dir(alpha_k)
# with alpha_k ~ U[0.5, 2] per interpolation vector (B8-1, B8-2). Seed: the
# shared runtime base (the thesis uses AlignMixup's seed).
#
# Recipe (schedule base): SGD lr 0.1, momentum 0.9, wd 1e-4, x0.1 at 100 and
# 200, 300 epochs (implied, spec B8-12), batch 128 per GPU on 32 GPUs (global
# 4096 with lr 0.1: inconsistent with usual lr scaling, flagged, B8-12); m = b
# = 128 per GPU.
_base_ = [
    '../alignmixup/_base_/models/resnet50.py',
    '../alignmixup/_base_/datasets/imagenet_bs128.py',
    './_base_/schedules/imagenet_bs128x32-300e_multimix.py',
    '../alignmixup/_base_/default_runtime.py',
]

model = dict(
    mix_modes=[
        dict(level='input', augment=dict(type='Mixup', alpha=2.0)),
        dict(
            level='logits',
            augment=dict(type='MultiMix', n=1000, alpha_range=(0.5, 2.0))),
    ],
    mix_probs=[0.5, 0.5])
