# The base of the NPIDv2-InterCLR ablations at 100 epochs (spec interclr.md
# §4.3, Figs. 5, 6 and the K study): the NPIDv2-InterCLR recipe
# (../interclr-npidv2_resnet50_8xb32-coslr-200e_in1k.py) with
#   * K = 4,096 negatives, for both branches (the paper gives one K for the
#     ablations; NPIDv2 uses the same K for its intra and inter branches);
#   * 100 epochs, cosine over 100 epochs (SGD lr 0.03, batch 256);
#   * zero margins in both branches, online labels, semi-hard negatives.
# Each ablation file (../ablations/) changes the one or two settings its
# name announces.
_base_ = '../interclr-npidv2_resnet50_8xb32-coslr-200e_in1k.py'

max_epochs = 100
model = dict(
    head=dict(margin=0.),
    inter_head=dict(margin=0.),
    num_negatives=4096,
    num_inter_negatives=None,
    neg_strategy='semihard',
    label_update='online')

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
