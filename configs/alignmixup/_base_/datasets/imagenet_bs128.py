# ImageNet-1k as in the official AlignMixup ImageNet code: RandomResizedCrop
# 224, horizontal flip and ColorJitter(brightness=contrast=saturation=0.4)
# for training; Resize 256 (short edge) + CenterCrop 224 for testing;
# ImageNet mean/std. mmpretrain ImageNet dataset under data/imagenet
# (train/ and val/ class folders, or meta/{train,val}.txt).
#
# Deviation: the official AlexNet-style PCA "Lighting" (alphastd 0.1) is left
# out. mmpretrain has a Lighting transform, but it casts its float result
# back to uint8 without clipping, so saturated pixels wrap around (256.7 ->
# 0, -1.2 -> 255) and bright regions of about half the images would be
# corrupted; the official version works on float tensors. Add it back only
# with a clipping implementation.
#
# 128 images per GPU (official recipe: 8 x 128 = 1024); the thesis recipe
# configs set 25 per GPU (4 x 25 = 100).
dataset_type = 'ImageNet'
data_root = 'data/imagenet'
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
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
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
