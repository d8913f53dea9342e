# Out-of-distribution detection test of the Fashion-MNIST comparison models
# (any of the four method configs' checkpoints; the network is the same):
# ID = the 10k Fashion-MNIST test images, OOD = 10k Gaussian-noise images
# N(0.5, 0.5) clipped to [0, 1] (spec A5/A8-12), score = max softmax.
#   python tools/test.py THIS_CONFIG work_dirs/.../epoch_3.pth
# For uniform noise, add
#   --cfg-options test_dataloader.dataset.datasets.1.kind=uniform
_base_ = './_base_/preactresnet18-w16_1xb128-3e_fashionmnist.py'

test_pipeline = [dict(type='PackInputs')]
test_dataloader = dict(
    batch_size=500,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        ignore_keys=['classes'],
        datasets=[
            dict(
                type='FashionMNIST',
                data_root={{_base_.data_root}},
                split='test',
                pipeline=test_pipeline),
            dict(
                type='NoiseDataset',
                num_samples=10000,
                shape=(28, 28),
                kind='gaussian',
                seed=0,
                pipeline=test_pipeline),
        ]))
test_evaluator = dict(_delete_=True, type='OODDetection', threshold=0.5)
