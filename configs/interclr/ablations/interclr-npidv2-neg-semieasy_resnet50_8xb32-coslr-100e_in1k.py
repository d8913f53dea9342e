# NPIDv2-InterCLR ablation, negative sampling (spec interclr.md §4.3,
# Fig. 5b): 'semieasy' inter negatives. K = 4,096, 100 epochs, online labels,
# zero margins.
_base_ = '../_base_/interclr-npidv2-ablation_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(neg_strategy='semieasy')
