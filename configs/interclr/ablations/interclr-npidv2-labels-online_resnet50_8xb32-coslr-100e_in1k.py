# NPIDv2-InterCLR ablation, label maintenance (spec interclr.md §4.3,
# Fig. 5a): online labels (every step the batch's memory rows join their
# nearest centroid; centroids recomputed every 10 iterations). K = 4,096,
# 100 epochs, random negatives, zero margins. The same run as
# interclr-npidv2-neg-random_resnet50_8xb32-coslr-100e_in1k.py.
_base_ = '../_base_/interclr-npidv2-ablation_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(neg_strategy='random', label_update='online')
