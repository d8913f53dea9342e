# BYOL + InterCLR on ImageNet-1k, ResNet-50, 200 epochs (spec interclr.md
# §3.6.3, §4.2, A5). No official code exists for it: the inter branch's
# details are the spec's resolutions (A5), not the authors' code.
#
# BYOL's recipe run for 200 epochs with 256 images a step and gradient
# accumulation to simulate a 4096 batch, as the paper did: 8 GPUs x 32
# images, the gradients of 16 steps summed before each update
# (optim_wrapper.accumulative_counts=16; 8 x 32 x 16 = 4096). The rest is
# mmpretrain's BYOL config (16 GPUs x 256): LARS lr 4.8 (= 0.3 x 4096 /
# 256), momentum 0.9, wd 1e-6, BN and biases out of weight decay and LARS
# adaptation, 10 linear warm-up epochs then cosine, BYOL's networks
# (projector 2048-4096-256, predictor 256-4096-256, SyncBN) and its two
# asymmetric views.
# Target network: base EMA 0.99 per update, cosine to 1. The target is
# updated at every forward, i.e. 16 times per optimizer step here while
# the online weights stay the same, so the per-forward momentum is
# 1 - 0.99 ** (1 / 16) (~6.3e-4): 16 such updates move the target as far
# as one BYOL update with 0.99 (exactly at the start, to first order along
# the cosine schedule).
# InterCLR's edits:
#   * model mmmix.InterCLRBYOL: loss = 0.75 * intra + 0.25 * inter (lambda
#     = 0.75). Intra: BYOL's symmetric loss. Inter: no negatives and no
#     margin: each view's prediction regresses (BYOL's loss) onto one
#     memory entry of the image's k-means cluster;
#   * memory: the normalised mean of the two views' normalised target
#     projections (256-d), momentum 1 (not stated in the paper, spec A5),
#     k = 10,000 clusters, labels refreshed online;
#   * mmmix.InterCLRHook with the clustering features from the target
#     network (spec A5; the memory holds target projections), the same
#     intervals as MoCo v2 + InterCLR (see _base_/interclr_in1k.py).
_base_ = [
    'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py',
    './_base_/interclr_in1k.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

accumulative_counts = 16
model = dict(
    type='mmmix.InterCLRBYOL',
    base_momentum=1 - 0.99**(1 / accumulative_counts),
    memory=dict(
        type='mmmix.PseudoLabelMemory',
        length={{_base_.interclr_num_images}},
        feat_dim=256,
        num_clusters={{_base_.interclr_num_clusters}},
        momentum=1.0,
        assign_metric='dot',
        min_cluster=20),
    intra_weight=0.75,
    exclude_self_positive=False,
    label_update='online')

train_dataloader = dict(batch_size=32)
optim_wrapper = dict(accumulative_counts=accumulative_counts)

custom_hooks = [
    dict(
        type='mmmix.InterCLRHook',
        dataloader={{_base_.interclr_extract_loader}},
        feat_source='target',
        offline_interval=1,
        centroid_interval=10,
        repair_interval=1,
        stats_interval=50,
        warmup_epochs=0)
]

# lr 4.8 is for 256 images a forward (8 GPUs x 32) accumulated 16 times:
# `--auto-scale-lr` scales it to the real per-forward batch (mmengine does
# not count the accumulation)
auto_scale_lr = dict(base_batch_size=256)
