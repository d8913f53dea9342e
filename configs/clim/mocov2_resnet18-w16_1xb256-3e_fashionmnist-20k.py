# The MoCo v2 baseline of the CLIM comparison on Fashion-MNIST (CPU): the
# quickstart's network, views and optimiser, pretrained for 3 epochs on the
# first 20,000 training images (a budget that fits three seeds of three
# methods on two CPU cores); k-NN top-1 uses all 60,000 labelled training
# images as the bank and the 10,000 test images as queries.
_base_ = '../quickstart/mocov2_resnet18-w16_1xb256-4e_fashionmnist.py'

max_epochs = 3
num_train = 20000

train_dataloader = dict(dataset=dict(indices=num_train))
data_root = '/usr/share/datasets/fashion-mnist'


def _loader(split):
    return dict(
        batch_size=1000,
        num_workers=1,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='mmmix.FashionMNIST',
            data_root=data_root,
            split=split,
            pipeline=[dict(type='PackInputs')]))


knn_hook = dict(
    type='mmmix.KNNEvalHook',
    bank_dataloader=_loader('train'),
    query_dataloader=_loader('test'),
    interval=max_epochs,
    num_neighbors=(20, 200),
    topk=(1, 5),
    temperature=0.07)
custom_hooks = [knn_hook]
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
