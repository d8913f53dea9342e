# SimCLR + A2 (multiview with alignment, spec 5.2, Eq. 4) with W-perturb (VG2:
# Gaussian noise, std 0.2, on the inverted W+ latent) views on CIFAR-100: two
# expert views plus one of the 8 cached generated views of the image (uniform),
# flipped, appended LAST; loss = the cross-view InfoNCE (Eq. 12) of the expert
# views - alpha / tau x the mean alignment of both expert anchors with the
# generated view (never a negative). Recipe:
# simclr_resnet50-cifar_4xb128-coslr-1200e_cifar100.py.
_base_ = ['./_base_/cifar100_supcon.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.a2_wperturb_pipeline}}))
model = dict(base_loss='infonce')  # A2-InfoNCE (Table 11, spec A10)
custom_hooks = [dict(type='mmmix.GeneratedViewsHook')]
