# NPIDv2-InterCLR ablation, number of negatives (spec interclr.md §4.1,
# §4.3: K = 4,096 in the ablations, 16,384 in the final models): K = 16384
# negatives in both branches, 100 epochs, online labels, semi-hard
# negatives, the final margins (intra 0, inter -0.5).
_base_ = '../_base_/interclr-npidv2-ablation_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(
    head=dict(margin=0.),
    inter_head=dict(margin=-0.5),
    num_negatives=16384,
    num_inter_negatives=None)
