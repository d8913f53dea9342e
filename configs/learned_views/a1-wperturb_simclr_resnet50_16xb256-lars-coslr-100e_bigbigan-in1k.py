# SimCLR + A1 (replacement, spec 5.1) with W-perturb (Gaussian noise on the
# latent of BigBiGAN's own encoder, spec 4.2) views on 1.3M BigBiGAN ImageNet
# fakes (Table 4; settings of the unverified E-SSL script): view 1 is an expert
# view, view 2 one of the 8 cached generated views of the image (uniform) with
# the weak crop_small (area 0.9-1, aspect 0.9-1.1) and a flip; the loss is the
# baseline's (the cross-view InfoNCE of Eq. 12). Recipe:
# simclr_resnet50_16xb256-lars-coslr-100e_bigbigan-in1k.py.
_base_ = ['./_base_/bigbigan-in1k_essl.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.a1_wperturb_pipeline}}))
custom_hooks = [dict(type='mmmix.GeneratedViewsHook')]
