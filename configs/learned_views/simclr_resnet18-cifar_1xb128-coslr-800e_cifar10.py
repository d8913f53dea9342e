# The SimCLR baseline of 'On Assimilating Learned Views' on CIFAR-10: two
# expert views, the cross-view InfoNCE of Eq. 12, the recipe of
# _base_/cifar10_essl.py. It is also the frozen encoder f of W-search and of
# the epsilon calibration.
_base_ = ['./_base_/cifar10_essl.py']
