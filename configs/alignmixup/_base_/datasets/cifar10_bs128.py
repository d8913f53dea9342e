# CIFAR-10 as in the official AlignMixup code: RandomCrop 32 with 4 pixels
# of zero padding and horizontal flip for training, no augmentation for
# testing, normalisation with the official code's mean (0.4914, 0.4822,
# 0.4465) and std (0.2023, 0.1994, 0.2010) scaled to 0-255. mmpretrain's
# CIFAR10 dataset reads (or downloads) the python version of the data
# under data/cifar10; its images are RGB already (to_rgb=False).
# Evaluation: top-1 accuracy and ECE/OE with 15 equal-width bins (spec A8-14).
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=500,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='CalibrationError', num_bins=15),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
