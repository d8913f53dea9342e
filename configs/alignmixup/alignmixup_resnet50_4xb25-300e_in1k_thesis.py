# AlignMixup, thesis preset (Alg. 1): ResNet-50 on ImageNet-1k.
#
# Targets thesis Table 3.2, AlignMixup row: top-1 error 20.32% (28M
# parameters there, with an FC stage-2 encoder; 25.6M here). Thesis recipe:
# lr 0.1 for the classifier and 0.01 for the rest, x0.1 at epochs 100 and
# 200, 300 epochs, batch 100 = 4 GPUs x 25 (flagged as uncertain, spec A8-7).
#
# Modes: input Mixup, aligned feature maps, embedding Mixup with
# probabilities 1/4, 1/2, 1/4 (A3.5, A8-1). The aligned tensor is the layer4
# output, 2048x7x7 (r = 49, A8-6), and e is its global average pooling
# (A8-2). The mixing permutation pairs images within each GPU's batch (A8-8).
# The official PCA Lighting augmentation is left out (see the dataset base).
#
# AlignMix settings (thesis §3.4.1, all datasets): alpha = 2 with one lambda
# per batch (spec A8-3); eps = 0.1 on raw squared distances (A8-5);
# log-domain Sinkhorn, at most 100 iterations with the official early stop,
# rows of R not renormalised (A8-4); direction (3.12) or (3.13) drawn 50/50,
# official formulation (lambda on the content of x); the plan is detached.
_base_ = [
    './_base_/models/resnet50.py',
    './_base_/datasets/imagenet_bs128.py',
    './_base_/schedules/imagenet_bs100-300e_thesis.py',
    './_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=25)
model = dict(
    mix_modes=[
        dict(level='input', augment=dict(type='Mixup', alpha=2.0)),
        dict(
            level='feature',
            augment=dict(
                type='AlignMix', alpha=2.0, eps=0.1, max_iter=100,
                stop_rule='official')),
        dict(level='embedding', augment=dict(type='Mixup', alpha=2.0)),
    ],
    mix_probs=[0.25, 0.5, 0.25])
