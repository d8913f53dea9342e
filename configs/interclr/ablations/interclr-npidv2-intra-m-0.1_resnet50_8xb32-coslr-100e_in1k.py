# NPIDv2-InterCLR ablation, intra-image decision margin (spec interclr.md
# §4.3, Fig. 6a): intra margin m = -0.1, inter margin 0. K = 4,096, 100
# epochs, online labels, semi-hard negatives. The sweep values are assumed
# (spec A17); m = 0 is the interclr-npidv2-neg-semihard run.
_base_ = '../_base_/interclr-npidv2-ablation_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(head=dict(margin=-0.1), inter_head=dict(margin=0.))
