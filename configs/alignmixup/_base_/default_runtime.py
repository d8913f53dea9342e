# Runtime shared by the paper-dataset configs of this folder (CIFAR-10/100,
# TinyImageNet, ImageNet): mmpretrain's default runtime with mmmix as the
# default scope. Checkpoints keep the best epoch by top-1 accuracy as well as
# the latest ones: the official AlignMixup code reports the best test
# accuracy over all epochs, so report both the final-epoch and the
# best-epoch numbers and label them (spec A8-9).
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=10, max_keep_ckpts=2, save_best='auto'))
randomness = dict(seed=0, deterministic=False)
