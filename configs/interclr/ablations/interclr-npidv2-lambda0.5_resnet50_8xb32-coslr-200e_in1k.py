# NPIDv2-InterCLR ablation, loss weight lambda (spec interclr.md §4.3,
# Fig. 8): lambda = 0.5 (loss = lambda * intra + (1 - lambda) * inter).
# K = 4,096, 200 epochs, online labels, random negatives, zero margins. The
# sweep values are assumed (spec A17).
_base_ = '../_base_/interclr-npidv2-lambda_resnet50_8xb32-coslr-200e_in1k.py'

model = dict(intra_weight=0.5)
