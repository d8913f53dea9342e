"""One optimiser per sub-network (GANs): an ``OptimWrapperDict``."""
import copy

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict

from mmmix.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GANOptimWrapperConstructor:
    """Build one optimiser wrapper per named child module of the model.

    ``optim_wrapper = dict(constructor='mmmix.GANOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=0.0025, betas=(0, 0.99))),
    discriminator=dict(...))``: each key names a child module (e.g.
    ``model.generator``) and holds an ordinary optim-wrapper config (with
    optional ``paramwise_cfg``), built by mmengine's default constructor on
    that child only. Modules not named (e.g. the EMA generator) get no
    optimiser.

    Args:
        optim_wrapper_cfg (dict): ``{child name: optim wrapper cfg}``.
        paramwise_cfg (dict, optional): must be None here (give it per
            child).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        if paramwise_cfg is not None:
            raise ValueError('GANOptimWrapperConstructor takes paramwise_cfg '
                             'per sub-network, not at the top level')
        if not optim_wrapper_cfg:
            raise ValueError('GANOptimWrapperConstructor needs at least one '
                             'sub-network entry, e.g. generator=dict(...)')
        self.cfgs = copy.deepcopy(dict(optim_wrapper_cfg))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        model = getattr(model, 'module', model)
        wrappers = {}
        for name, cfg in self.cfgs.items():
            child = getattr(model, name, None)
            if not isinstance(child, nn.Module):
                children = [n for n, _ in model.named_children()]
                raise KeyError(f'optim_wrapper entry {name!r} names no '
                               f'sub-module of {type(model).__name__}; '
                               f'sub-modules: {children}')
            cfg = dict(cfg)
            paramwise = cfg.pop('paramwise_cfg', None)
            wrappers[name] = DefaultOptimWrapperConstructor(
                cfg, paramwise)(child)
        return OptimWrapperDict(**wrappers)
