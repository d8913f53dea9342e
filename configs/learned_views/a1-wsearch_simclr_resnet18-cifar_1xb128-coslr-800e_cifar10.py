# SimCLR + A1 (replacement, spec 5.1) with W-search (VG1: latents searched so
# that the view sits about eps1 from the anchor in a frozen SimCLR encoder's
# space, the views spread by a hinge at eps2) views on CIFAR-10: view 1 is an
# expert view, view 2 one of the 8 cached generated views of the image
# (uniform) with the weak crop_small (area 0.9-1, aspect 0.9-1.1) and a flip;
# the loss is the baseline's (the cross-view InfoNCE of Eq. 12). Recipe:
# simclr_resnet18-cifar_1xb128-coslr-800e_cifar10.py.
_base_ = ['./_base_/cifar10_essl.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.a1_wsearch_pipeline}}))
custom_hooks = [dict(type='mmmix.GeneratedViewsHook')]
