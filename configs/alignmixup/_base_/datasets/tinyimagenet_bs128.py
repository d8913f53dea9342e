# TinyImageNet-200 as in the official AlignMixup code: 64x64 images,
# RandomCrop 64 with 4 pixels of zero padding and horizontal flip for
# training, no augmentation for testing, and the CIFAR mean/std of the
# official code (not ImageNet statistics), scaled to 0-255. Images are
# decoded as BGR colour (grey images become 3 channels) and converted to
# RGB by the data preprocessor. Evaluation on the 10k validation images.
#
# Data layout (mmpretrain CustomDataset, classes = sorted wnid folders):
#   data/tiny-imagenet-200/train/<wnid>/images/*.JPEG  (as distributed)
#   data/tiny-imagenet-200/val/<wnid>/*.JPEG
# The distributed val/ folder has all images in val/images/ with labels in
# val/val_annotations.txt: move each image into the folder of its wnid
# first (or give the val dataset an ann_file with "<path> <class index>"
# lines in the sorted-wnid order).
dataset_type = 'CustomDataset'
data_root = 'data/tiny-imagenet-200'
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=200,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=64, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=500,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='val',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
