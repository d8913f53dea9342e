# The base of the NPIDv2-InterCLR lambda study (spec interclr.md §4.3,
# Fig. 8): the NPIDv2-InterCLR recipe
# (../interclr-npidv2_resnet50_8xb32-coslr-200e_in1k.py, 200 epochs) with
# K = 4,096 negatives in both branches, online labels, random negatives and
# zero margins in both branches. The files
# ../ablations/interclr-npidv2-lambda*_resnet50_8xb32-coslr-200e_in1k.py set
# lambda (model.intra_weight).
_base_ = '../interclr-npidv2_resnet50_8xb32-coslr-200e_in1k.py'

model = dict(
    head=dict(margin=0.),
    inter_head=dict(margin=0.),
    num_negatives=4096,
    num_inter_negatives=None,
    neg_strategy='random',
    label_update='online')
