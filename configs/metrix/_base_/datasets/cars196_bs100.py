# Cars196 with the zero-shot DML split (thesis Table 4.2, spec §4): train
# on classes 1-98 (8,054 images), retrieve among classes 99-196 (8,131
# images), the images of both official splits; data: car_ims/ and
# cars_annos.mat under data/cars196 (see mmmix.Cars196DML). Pipelines,
# uniform random batches of 100 and Recall@{1, 2, 4, 8} as for CUB200.
_base_ = './cub200_bs100.py'

dataset_type = 'Cars196DML'
data_root = 'data/cars196'
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
