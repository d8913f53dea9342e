# SimCLR + A1 (replacement, spec 5.1) with W-search (VG1: latents searched so
# that the view sits about eps1 from the anchor in a frozen SimCLR encoder's
# space, the views spread by a hinge at eps2) views on TinyImageNet (64 px):
# view 1 is an expert view, view 2 one of the 8 cached generated views of the
# image (uniform) with the weak crop_small (area 0.9-1, aspect 0.9-1.1) and a
# flip; the loss is the baseline's (NT-Xent (Eq. 1, the SupContrast
# baseline's)). Recipe:
# simclr_resnet18-cifar_4xb128-coslr-1000e_tinyimagenet64.py.
_base_ = ['./_base_/tinyimagenet64_supcon.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.a1_wsearch_pipeline}}))
custom_hooks = [dict(type='mmmix.GeneratedViewsHook')]
