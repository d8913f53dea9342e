# Stanford Online Products with the standard DML split (thesis Table 4.2,
# spec §4): Ebay_train.txt (59,551 images, 11,318 classes) for training,
# Ebay_test.txt (60,502 images, 11,316 classes) for retrieval, each test
# image querying all the others; data under data/Stanford_Online_Products
# (see mmmix.SOPDML). Pipelines as for CUB200.
# - "Balanced" sampling (thesis Table 4.2): 20 classes x 5 images per batch
#   of 100, classes without replacement inside a batch. Images of a class
#   are drawn without replacement when it has >= 5 (with replacement
#   otherwise); the official code's BalancedSampler always draws with
#   replacement (spec §3.1). The data loader's batch_size must equal the
#   sampler's.
# - Recall@K for K = 1, 10, 100, 1000 (Table 4.3 reports 1, 10, 100).
_base_ = './cub200_bs100.py'

dataset_type = 'SOPDML'
data_root = 'data/Stanford_Online_Products'
train_dataloader = dict(
    batch_size=100,
    sampler=dict(
        _delete_=True,
        type='ClassBalancedSampler',
        samples_per_class=5,
        batch_size=100),
    dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
val_evaluator = dict(topk=(1, 10, 100, 1000))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
