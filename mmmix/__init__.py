"""mmmix: mixup, metric-mix and self-supervised pretraining for mmpretrain.

Importing the package registers its components into its registries (children
of mmpretrain's, scope ``'mmmix'``) and makes mmengine load checkpoints with
``torch.load(weights_only=True)`` and an allowlist of what mmengine writes.
"""
from . import datasets, engine, evaluation, models, ops, registry  # noqa: F401
from .version import __version__

__all__ = ['__version__']
