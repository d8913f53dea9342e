"""DINO's optimisation mechanics: per-tensor clipping, frozen last layer.

mmengine clips by the global norm and has no hook between ``backward`` and
``optimizer.step``; DINO clips every gradient tensor on its own and drops the
gradient of the head's last layer during the first epoch(s), which AdamW then
skips entirely (no moment update, no decoupled weight decay).
"""
from typing import List, Optional

import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.optim import (
    AmpOptimWrapper,
    DefaultOptimWrapperConstructor,
    OptimWrapper,
)

from mmmix.ops.dino import clip_grad_per_param_
from mmmix.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS


class _DINOStepMixin:
    """Per-parameter clipping and last-layer freezing before each step
    (the arguments of :class:`DINOOptimWrapper`, then the wrapper's own)."""

    def __init__(self, optimizer, per_param_clip: Optional[float] = 3.0,
                 freeze_last_layer: int = 1,
                 freeze_keyword: str = 'last_layer', **kwargs) -> None:
        super().__init__(optimizer=optimizer, **kwargs)
        if per_param_clip is not None and not per_param_clip > 0:
            raise ValueError('per_param_clip must be > 0 or None, got '
                             f'{per_param_clip}')
        if freeze_last_layer < 0:
            raise ValueError('freeze_last_layer must be >= 0 epochs, got '
                             f'{freeze_last_layer}')
        self.per_param_clip = per_param_clip
        self.freeze_last_layer = freeze_last_layer
        self.freeze_keyword = freeze_keyword
        self.frozen_params: List[nn.Parameter] = []

    def set_frozen_params(self, model: nn.Module) -> List[str]:
        """Record the parameters whose name contains ``freeze_keyword``."""
        names, self.frozen_params = [], []
        for name, p in model.named_parameters():
            if self.freeze_keyword in name and p.requires_grad:
                names.append(name)
                self.frozen_params.append(p)
        if self.freeze_last_layer and not names:
            raise ValueError(
                f'freeze_last_layer={self.freeze_last_layer} but no trainable '
                f'parameter name contains {self.freeze_keyword!r}')
        return names

    def _all_params(self):
        for group in self.optimizer.param_groups:
            yield from group['params']

    def _dino_before_step(self) -> None:
        epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        if epoch < self.freeze_last_layer:
            for p in self.frozen_params:
                p.grad = None
        if self.per_param_clip is not None:
            clip_grad_per_param_(self._all_params(), self.per_param_clip)


@OPTIM_WRAPPERS.register_module()
class DINOOptimWrapper(_DINOStepMixin, OptimWrapper):
    """``OptimWrapper`` with DINO's per-tensor clipping and frozen last layer.

    Build it with ``constructor='DINOOptimWrapperConstructor'`` so that the
    parameters to freeze are known (their names contain ``freeze_keyword``).

    Args:
        optimizer: the optimizer (built by the constructor).
        per_param_clip (float, optional): each gradient tensor is scaled to
            an L2 norm of at most this (DINO: 3.0); None disables it.
        freeze_last_layer (int): epochs during which the gradients of the
            frozen parameters are dropped before the step. Defaults to 1.
        freeze_keyword (str): Defaults to ``'last_layer'``.
        **kwargs: ``OptimWrapper``'s other arguments (``clip_grad`` would
            add mmengine's global-norm clipping on top).
    """

    def step(self, **kwargs) -> None:
        self._dino_before_step()
        super().step(**kwargs)


@OPTIM_WRAPPERS.register_module()
class DINOAmpOptimWrapper(_DINOStepMixin, AmpOptimWrapper):
    """:class:`DINOOptimWrapper` under mixed precision.

    Gradients are unscaled before they are clipped (as DINO does); the
    arguments are those of :class:`DINOOptimWrapper` and mmengine's
    ``AmpOptimWrapper``.
    """

    def step(self, **kwargs) -> None:
        self.loss_scaler.unscale_(self.optimizer)
        self._dino_before_step()
        if self.clip_grad_kwargs:
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._scale_update_param)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DINOOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor that also tells a DINO wrapper which
    parameters to freeze (by name, from the model it builds for)."""

    def __call__(self, model: nn.Module):
        wrapper = super().__call__(model)
        if hasattr(wrapper, 'set_frozen_params'):
            module = model.module if hasattr(model, 'module') else model
            wrapper.set_frozen_params(module)
        return wrapper
