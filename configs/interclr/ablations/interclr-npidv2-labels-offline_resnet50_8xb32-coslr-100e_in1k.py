# NPIDv2-InterCLR ablation, label maintenance (spec interclr.md §4.3,
# Fig. 5a): offline labels. The memory features are still updated every
# step, but the labels change only when InterCLRHook re-runs the global
# k-means over the whole training set, after every epoch
# (offline_interval=1: the paper gives no interval; 1 epoch is
# DeepCluster's and the more competitive baseline, spec A3). K = 4,096, 100
# epochs, random negatives, zero margins.
_base_ = '../_base_/interclr-npidv2-ablation_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(neg_strategy='random', label_update='offline')
