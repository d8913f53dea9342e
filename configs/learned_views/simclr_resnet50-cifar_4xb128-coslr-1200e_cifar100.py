# The SimCLR baseline of 'On Assimilating Learned Views' on CIFAR-100: two
# expert views, NT-Xent (Eq. 1, the SupContrast baseline's), the recipe of
# _base_/cifar100_supcon.py. It is also the frozen encoder f of W-search and of
# the epsilon calibration.
_base_ = ['./_base_/cifar100_supcon.py']
