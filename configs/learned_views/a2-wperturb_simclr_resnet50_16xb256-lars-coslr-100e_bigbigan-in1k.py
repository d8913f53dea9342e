# SimCLR + A2 (multiview with alignment, spec 5.2, Eq. 4) with W-perturb
# (Gaussian noise on the latent of BigBiGAN's own encoder, spec 4.2) views on
# 1.3M BigBiGAN ImageNet fakes (Table 4; settings of the unverified E-SSL
# script): two expert views plus one of the 8 cached generated views of the
# image (uniform), randomly resized-cropped to 224 px (bicubic) and flipped as
# in the E-SSL script, appended LAST; loss = the cross-view InfoNCE (Eq. 12) of
# the expert views - alpha / tau x the mean alignment of both expert anchors
# with the generated view (never a negative). Recipe:
# simclr_resnet50_16xb256-lars-coslr-100e_bigbigan-in1k.py.
_base_ = ['./_base_/bigbigan-in1k_essl.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.a2_wperturb_pipeline}}))
custom_hooks = [dict(type='mmmix.GeneratedViewsHook')]
