# NPIDv2-InterCLR ablation, loss weight lambda (spec interclr.md §4.3,
# Fig. 8): lambda = 1.0 (loss = lambda * intra + (1 - lambda) * inter).
# K = 4,096, 200 epochs, online labels, random negatives, zero margins. The
# sweep values are assumed (spec A17).
# lambda = 1: intra branch only (NPIDv2 with K = 4,096); the inter head and
# the clustering are still built and run, the inter loss is not computed.
_base_ = '../_base_/interclr-npidv2-lambda_resnet50_8xb32-coslr-200e_in1k.py'

model = dict(intra_weight=1.0)
