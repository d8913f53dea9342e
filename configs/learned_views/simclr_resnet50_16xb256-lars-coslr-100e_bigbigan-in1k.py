# The SimCLR baseline of 'On Assimilating Learned Views' on the 1.3M BigBiGAN
# ImageNet fakes (Table 4; settings of the unverified E-SSL script): two expert
# views, the cross-view InfoNCE of Eq. 12, the recipe of
# _base_/bigbigan-in1k_essl.py.
_base_ = ['./_base_/bigbigan-in1k_essl.py']
