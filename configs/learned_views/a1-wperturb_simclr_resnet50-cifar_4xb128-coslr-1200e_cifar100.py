# SimCLR + A1 (replacement, spec 5.1) with W-perturb (VG2: Gaussian noise, std
# 0.2, on the inverted W+ latent) views on CIFAR-100: view 1 is an expert view,
# view 2 one of the 8 cached generated views of the image (uniform) with the
# weak crop_small (area 0.9-1, aspect 0.9-1.1) and a flip; the loss is the
# baseline's (NT-Xent (Eq. 1, the SupContrast baseline's)). Recipe:
# simclr_resnet50-cifar_4xb128-coslr-1200e_cifar100.py.
_base_ = ['./_base_/cifar100_supcon.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.a1_wperturb_pipeline}}))
custom_hooks = [dict(type='mmmix.GeneratedViewsHook')]
