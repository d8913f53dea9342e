# SimSiam on CIFAR-10 with the recipe of
# simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py (the alpha = 0 baseline)
# and the kNN baseline of Table 4 instead of LMA: with probability 0.3 per view
# the clean image is replaced by a uniformly drawn one of its k = 20 nearest
# neighbours in the feature space of the same f_phi that conditions the IC-GAN
# (the bank's kNN graph; raw images from tools/lma/extract_features.py
# --save-images), then the handcrafted augmentation.
_base_ = ['../simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py']

knn_replace = dict(
    type='mmmix.KNNReplace',
    prob=0.3,
    knn_file={{_base_.lma_knn}},
    images_file={{_base_.lma_images}},
    expected_num_samples={{_base_.num_samples}})

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(
            type='MultiView',
            num_views=2,
            transforms=[[
                knn_replace,
                dict(type='Compose', transforms={{_base_.hca}}),
            ]]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True,
         lr={{_base_.lr}}),
    dict(type='mmmix.GeneratedViewsHook'),
]
