# SimCLR + A2 (multiview with alignment, spec 5.2, Eq. 4) with W-perturb (VG2:
# Gaussian noise, std 0.2, on the inverted W+ latent) views on CIFAR-10: two
# expert views plus one of the 8 cached generated views of the image (uniform),
# flipped, appended LAST; loss = the cross-view InfoNCE (Eq. 12) of the expert
# views - alpha / tau x the mean alignment of both expert anchors with the
# generated view (never a negative). Recipe:
# simclr_resnet18-cifar_1xb128-coslr-800e_cifar10.py.
_base_ = ['./_base_/cifar10_essl.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.a2_wperturb_pipeline}}))
custom_hooks = [dict(type='mmmix.GeneratedViewsHook')]
