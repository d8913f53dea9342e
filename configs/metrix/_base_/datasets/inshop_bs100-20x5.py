# In-Shop Clothes Retrieval with the standard query -> gallery protocol
# (spec §4, A13; the thesis text says "the test set excluding itself", the
# standard protocol and the official code use query -> gallery):
# Eval/list_eval_partition.txt under data/inshop (images under img/; see
# mmmix.InShopDML). Train on the 25,882 'train' images (3,997 items); the
# 'test' split is the 14,218 queries followed by the 12,612 gallery images,
# each with an `is_query` flag, which the test pipeline keeps in the data
# sample's metainfo (PackInputs meta_keys: mmpretrain's defaults +
# 'is_query') for RetrievalRecall(query_gallery=True).
# - Balanced sampling, 20 classes x 5 images (as for SOP).
# - Recall@K for K = 1, 10, 20, 30, 40, 50 (Table 4.3 reports 1, 10, 20).
_base_ = './sop_bs100-20x5.py'

dataset_type = 'InShopDML'
data_root = 'data/inshop'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(
        type='PackInputs',
        meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'flip', 'flip_direction', 'is_query')),
]
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=test_pipeline))
val_evaluator = dict(topk=(1, 10, 20, 30, 40, 50), query_gallery=True)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
