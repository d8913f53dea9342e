"""A user-installed generator behind the interface LMA and the learned-view
tools use (no third-party generator code is shipped with mmmix).

The interface (what :class:`~mmmix.models.utils.LMASampler`,
:class:`~mmmix.datasets.LocalManifoldAugment` and the tools read):
attributes ``z_dim``, ``cond_dim`` (0 = unconditional), ``img_channels``,
``resolution`` and ``forward(z, cond=None, truncation_psi=1.0,
noise_mode='random')`` returning ``(B, img_channels, R, R)`` images in
[-1, 1]. :class:`StyleGAN2Generator` implements it; :class:`ExternalGenerator`
adapts any other network (e.g. the official IC-GAN's BigGAN, installed by
the user) to it.
"""
import importlib
from typing import Callable, Optional

import torch
import torch.nn as nn

from mmmix.registry import MODELS

_RANGES = ('-1,1', '0,1')


def import_factory(path: str) -> Callable:
    """``'package.module:attribute'`` -> the attribute (a class or a
    function building the network); a missing package raises an
    ImportError that names it."""
    if ':' not in path:
        raise ValueError(f"factory must be 'package.module:attribute', got "
                         f'{path!r}')
    module_name, attr = path.split(':', 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ImportError(
            f'the external generator needs {module_name!r}, which cannot '
            f'be imported ({e}); install it (mmmix does not ship third-party '
            'generator code)') from e
    try:
        obj = module
        for part in attr.split('.'):
            obj = getattr(obj, part)
    except AttributeError as e:
        raise ImportError(f'{module_name!r} has no {attr!r}') from e
    return obj


@MODELS.register_module()
class ExternalGenerator(nn.Module):
    """Adapt a user-installed generator to mmmix's generator interface.

    The wrapped network is built by ``factory(**factory_kwargs)`` (an
    import path, or a callable / module given directly), its weights
    optionally loaded from ``checkpoint`` (a plain state dict or one under
    ``checkpoint_key``), frozen in eval mode. A call maps
    ``(z, cond)`` to ``net(z, cond)`` (``net(z)`` when unconditional), or to
    ``net(**{z_arg: z, cond_arg: cond})`` when argument names are given,
    and rescales the output from ``output_range`` to [-1, 1].

    Args:
        factory (str | callable | nn.Module): ``'package.module:attribute'``
            of a class / function building the network, or the network.
        z_dim (int): latent size the network expects.
        cond_dim (int): conditioning size (e.g. 2048 for the official
            IC-GAN's SwAV features); 0 = unconditional.
        img_channels (int): output channels.
        resolution (int): output size.
        factory_kwargs (dict, optional): arguments of ``factory``.
        checkpoint (str, optional): weights of the network.
        checkpoint_key (str, optional): key of the state dict inside the
            checkpoint (e.g. ``'state_dict'``).
        output_range (str): ``'-1,1'`` or ``'0,1'``. Defaults to ``'-1,1'``.
        z_arg (str, optional), cond_arg (str, optional): keyword names of
            the network's inputs; by default they are passed positionally.
    """

    def __init__(self,
                 factory,
                 z_dim: int,
                 cond_dim: int = 0,
                 img_channels: int = 3,
                 resolution: int = 128,
                 factory_kwargs: Optional[dict] = None,
                 checkpoint: Optional[str] = None,
                 checkpoint_key: Optional[str] = None,
                 output_range: str = '-1,1',
                 z_arg: Optional[str] = None,
                 cond_arg: Optional[str] = None):
        super().__init__()
        for name, value in (('z_dim', z_dim), ('img_channels', img_channels),
                            ('resolution', resolution)):
            if value < 1:
                raise ValueError(f'{name} must be >= 1, got {value}')
        if cond_dim < 0:
            raise ValueError(f'cond_dim must be >= 0, got {cond_dim}')
        if output_range not in _RANGES:
            raise ValueError(f'output_range must be one of {_RANGES}, got '
                             f'{output_range!r}')
        if isinstance(factory, str):
            factory = import_factory(factory)
        net = (factory if isinstance(factory, nn.Module) else factory(
            **(factory_kwargs or {})))
        if not isinstance(net, nn.Module):
            raise TypeError('the factory must build an nn.Module, got '
                            f'{type(net).__name__}')
        if checkpoint is not None:
            state = torch.load(checkpoint, map_location='cpu',
                               weights_only=True)
            if checkpoint_key is not None:
                state = state[checkpoint_key]
            net.load_state_dict(state, strict=True)
        self.net = net.eval().requires_grad_(False)
        self.z_dim = z_dim
        self.cond_dim = cond_dim
        self.img_channels = img_channels
        self.resolution = resolution
        self.output_range = output_range
        self.z_arg = z_arg
        self.cond_arg = cond_arg

    def forward(self, z: torch.Tensor, cond: Optional[torch.Tensor] = None,
                truncation_psi: float = 1.0,
                noise_mode: str = 'random') -> torch.Tensor:
        """Images in [-1, 1]; ``truncation_psi`` and ``noise_mode`` are not
        forwarded (truncate ``z`` yourself if the network supports it)."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f'z must have shape (B, z_dim={self.z_dim}), '
                             f'got {tuple(z.shape)}')
        if (cond is None) != (self.cond_dim == 0):
            raise ValueError('cond must be given exactly when cond_dim > 0 '
                             f'(cond_dim={self.cond_dim})')
        if self.z_arg is not None:
            kwargs = {self.z_arg: z}
            if cond is not None:
                kwargs[self.cond_arg or 'cond'] = cond
            out = self.net(**kwargs)
        else:
            out = self.net(z) if cond is None else self.net(z, cond)
        expect = (z.shape[0], self.img_channels, self.resolution,
                  self.resolution)
        if tuple(out.shape) != expect:
            raise ValueError(f'the external generator returned shape '
                             f'{tuple(out.shape)}, expected {expect}')
        if self.output_range == '0,1':
            out = out * 2 - 1
        return out
