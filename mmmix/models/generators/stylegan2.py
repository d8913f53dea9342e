"""A compact StyleGAN2-style generator and discriminator (Karras et al.,
2020), written for small images (8-128 px), in an unconditional and an
instance-conditioned (IC-GAN, Casanova et al., 2021) form.

Generator: mapping ``[norm2(z) || norm2(FC(h))] -> MLP -> w`` (``h`` the
conditioning feature, absent when ``cond_dim=0``), a learned 4x4 constant,
per resolution two modulated / demodulated 3x3 convolutions with per-pixel
noise and a modulated 1x1 toRGB whose outputs are summed over resolutions
(skip architecture). Style codes live in W+: one ``w`` per layer,
``num_ws = 2 log2(R) - 2`` (4x4: conv, toRGB; every further resolution:
upsampling conv, conv, toRGB). Equalised learning rate everywhere (weights
stored at unit variance, scaled at run time), the mapping at ``lr_mul``.

Discriminator: fromRGB, residual blocks halving the resolution down to
4x4, minibatch standard deviation, a 3x3 conv and two linear layers.
Conditioning by projection: ``logit = <out(x), cmap(h)> / sqrt(cmap_dim)``
with ``cmap`` a small MLP of ``h``; unconditional: ``out`` is 1-d.

Differences from NVIDIA's reference (independent implementation, no code
taken from it): bilinear up / average-pool down instead of FIR filters,
no fp16 layers or conv clamping, no path-length regulariser.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmix.registry import MODELS

_NOISE_MODES = ('random', 'const', 'none')
_SQRT2 = math.sqrt(2.0)


def _norm2(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean(x^2) + eps)`` over the last dimension."""
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (0.2) with StyleGAN's gain sqrt(2)."""
    return F.leaky_relu(x, 0.2) * _SQRT2


class EqualLinear(nn.Module):
    """Linear layer with an equalised learning rate: ``y = x W^T c + b m``
    with ``c = lr_mul / sqrt(in_features)`` and ``m = lr_mul``."""

    def __init__(self, in_features: int, out_features: int,
                 bias: bool = True, bias_init: float = 0.,
                 lr_mul: float = 1., activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(
            torch.randn(out_features, in_features) / lr_mul)
        self.bias = (nn.Parameter(torch.full((out_features, ), bias_init /
                                             lr_mul)) if bias else None)
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = None if self.bias is None else self.bias * self.lr_mul
        x = F.linear(x, self.weight * self.scale, b)
        return _lrelu(x) if self.activation else x


class EqualConv2d(nn.Module):
    """3x3 / 1x1 convolution with an equalised learning rate."""

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int, bias: bool = True,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size,
                        kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.scale, self.bias,
                     padding=self.padding)
        return _lrelu(x) if self.activation else x


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution: the weight is scaled per input channel
    by ``s = A(w)`` (A initialised to give 1) and, with ``demodulate``,
    normalised to unit L2 norm per output channel and sample.

    Computed without per-sample weights (StyleGAN2's non-fused form, exact
    by linearity): scale the input channels by ``s``, convolve with the
    shared weight, scale the output channels by the demodulation
    coefficients ``1 / sqrt(sum_{i,k} (W_oik s_i)^2 + 1e-8)``; a grouped
    per-sample convolution is far slower on CPUs.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int, w_dim: int, demodulate: bool = True,
                 upsample: bool = False):
        super().__init__()
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size,
                        kernel_size))
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.)
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.upsample = upsample
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)  # (B, C_in)
        weight = self.weight * self.scale
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode='bilinear',
                              align_corners=False)
        x = F.conv2d(x * s[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:
            # (B, C_in) @ (C_in, C_out): sum_i s_i^2 sum_k W_oik^2
            d = torch.rsqrt(s.square() @ weight.square().sum((2, 3)).T +
                            1e-8)
            x = x * d[:, :, None, None]
        return x


class StyledLayer(nn.Module):
    """Modulated 3x3 conv + scaled per-pixel noise + bias + leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int,
                 resolution: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim,
                                    upsample=upsample)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer('noise_const',
                             torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor,
                noise_mode: str) -> torch.Tensor:
        x = self.conv(x, w)
        if noise_mode == 'random':
            x = x + self.noise_strength * torch.randn(
                x.shape[0], 1, *x.shape[2:], device=x.device,
                dtype=x.dtype)
        elif noise_mode == 'const':
            x = x + self.noise_strength * self.noise_const
        return _lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """Modulated 1x1 convolution without demodulation."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, img_channels, 1, w_dim,
                                    demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


def _channels(resolution: int, channel_base: int, channel_max: int) -> int:
    return min(channel_base // resolution, channel_max)


def _check_resolution(resolution: int) -> int:
    log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
    if resolution < 8 or 2**log2 != resolution:
        raise ValueError('resolution must be a power of 2 >= 8, got '
                         f'{resolution}')
    return log2


@MODELS.register_module()
class StyleGAN2Generator(BaseModule):
    """StyleGAN2-style generator, unconditional or instance-conditioned.

    Args:
        resolution (int): output size R (a power of 2, >= 8).
        img_channels (int): image channels (1 grey, 3 colour).
        z_dim (int): latent size. Defaults to 128.
        w_dim (int): style size. Defaults to 128.
        cond_dim (int): size of the conditioning feature ``h`` (IC-GAN);
            0 = unconditional. Defaults to 0.
        cond_embed_dim (int, optional): width of ``FC(h)``; defaults to
            ``w_dim`` (IC-GAN's ``embed_features``).
        mapping_layers (int): MLP layers of the mapping. Defaults to 2
            (StyleGAN2-ADA's 'cifar' setting).
        mapping_lr_mul (float): learning-rate multiplier of the mapping.
            Defaults to 0.01.
        channel_base (int): channels at resolution r are
            ``min(channel_base // r, channel_max)``. Defaults to 4096.
        channel_max (int): Defaults to 128.
        w_avg_beta (float): decay of the running mean of ``w`` (used by
            truncation), updated in training mode. Defaults to 0.995.
        init_cfg (dict, optional): mmengine init config.

    ``forward(z, cond=None, truncation_psi=1, noise_mode='random')``
    returns images of shape (B, img_channels, R, R), roughly in [-1, 1]
    (not clamped).
    """

    def __init__(self,
                 resolution: int,
                 img_channels: int = 3,
                 z_dim: int = 128,
                 w_dim: int = 128,
                 cond_dim: int = 0,
                 cond_embed_dim: Optional[int] = None,
                 mapping_layers: int = 2,
                 mapping_lr_mul: float = 0.01,
                 channel_base: int = 4096,
                 channel_max: int = 128,
                 w_avg_beta: float = 0.995,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        log2 = _check_resolution(resolution)
        for name, value in (('img_channels', img_channels),
                            ('z_dim', z_dim), ('w_dim', w_dim),
                            ('mapping_layers', mapping_layers)):
            if value < 1:
                raise ValueError(f'{name} must be >= 1, got {value}')
        if cond_dim < 0:
            raise ValueError(f'cond_dim must be >= 0, got {cond_dim}')
        if not 0 <= w_avg_beta < 1:
            raise ValueError(f'w_avg_beta must be in [0, 1), got '
                             f'{w_avg_beta}')
        self.resolution = resolution
        self.img_channels = img_channels
        self.z_dim = z_dim
        self.w_dim = w_dim
        self.cond_dim = cond_dim
        self.w_avg_beta = w_avg_beta
        self.num_ws = 2 * log2 - 2

        # Mapping network.
        embed = cond_embed_dim or w_dim
        self.cond_embed = (EqualLinear(cond_dim, embed)
                           if cond_dim > 0 else None)
        in_dim = z_dim + (embed if cond_dim > 0 else 0)
        self.mapping_net = nn.Sequential(*[
            EqualLinear(in_dim if i == 0 else w_dim, w_dim,
                        lr_mul=mapping_lr_mul, activation=True)
            for i in range(mapping_layers)
        ])
        self.register_buffer('w_avg', torch.zeros(w_dim))

        # Synthesis network.
        ch = {2**i: _channels(2**i, channel_base, channel_max)
              for i in range(2, log2 + 1)}
        self.const = nn.Parameter(torch.randn(1, ch[4], 4, 4))
        self.layers = nn.ModuleList([StyledLayer(ch[4], ch[4], w_dim, 4)])
        self.to_rgbs = nn.ModuleList([ToRGB(ch[4], img_channels, w_dim)])
        for i in range(3, log2 + 1):
            r = 2**i
            self.layers.append(
                StyledLayer(ch[r // 2], ch[r], w_dim, r, upsample=True))
            self.layers.append(StyledLayer(ch[r], ch[r], w_dim, r))
            self.to_rgbs.append(ToRGB(ch[r], img_channels, w_dim))

    def _check_inputs(self, z: torch.Tensor,
                      cond: Optional[torch.Tensor]) -> None:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f'z must have shape (B, z_dim={self.z_dim}), '
                             f'got {tuple(z.shape)}')
        if self.cond_dim == 0:
            if cond is not None:
                raise ValueError('this generator is unconditional '
                                 '(cond_dim=0) but cond was given')
            return
        if cond is None:
            raise ValueError(f'this generator is conditioned on a '
                             f'{self.cond_dim}-d feature: cond is required')
        if cond.dim() != 2 or cond.shape[1] != self.cond_dim:
            raise ValueError('cond must have shape (B, cond_dim='
                             f'{self.cond_dim}), got {tuple(cond.shape)}')
        if cond.shape[0] != z.shape[0]:
            raise ValueError(f'z and cond batch sizes differ: {z.shape[0]} '
                             f'vs {cond.shape[0]}')

    def mapping(self, z: torch.Tensor, cond: Optional[torch.Tensor] = None,
                truncation_psi: float = 1.0) -> torch.Tensor:
        """Map ``z`` (and ``cond``) to W+ codes of shape (B, num_ws,
        w_dim); in training mode also update the running mean ``w_avg``."""
        self._check_inputs(z, cond)
        x = _norm2(z)
        if self.cond_embed is not None:
            x = torch.cat([x, _norm2(self.cond_embed(cond.to(z.dtype)))], 1)
        w = self.mapping_net(x)
        if self.training and torch.is_grad_enabled():
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(0), 1 - self.w_avg_beta)
        if truncation_psi != 1:
            w = self.w_avg.lerp(w, truncation_psi)
        return w[:, None].expand(-1, self.num_ws, -1)

    def synthesis(self, ws: torch.Tensor,
                  noise_mode: str = 'const') -> torch.Tensor:
        """Images from W+ codes (B, num_ws, w_dim)."""
        if noise_mode not in _NOISE_MODES:
            raise ValueError(f'noise_mode must be one of {_NOISE_MODES}, '
                             f'got {noise_mode!r}')
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f'ws must have shape (B, num_ws={self.num_ws}, '
                             f'w_dim={self.w_dim}), got {tuple(ws.shape)}')
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        x = self.layers[0](x, ws[:, 0], noise_mode)
        img = self.to_rgbs[0](x, ws[:, 1])
        for i, to_rgb in enumerate(self.to_rgbs[1:]):
            x = self.layers[2 * i + 1](x, ws[:, 2 * i + 1], noise_mode)
            x = self.layers[2 * i + 2](x, ws[:, 2 * i + 2], noise_mode)
            img = F.interpolate(img, scale_factor=2, mode='bilinear',
                                align_corners=False)
            img = img + to_rgb(x, ws[:, 2 * i + 3])
        return img

    def forward(self, z: torch.Tensor, cond: Optional[torch.Tensor] = None,
                truncation_psi: float = 1.0,
                noise_mode: str = 'random') -> torch.Tensor:
        return self.synthesis(self.mapping(z, cond, truncation_psi),
                              noise_mode)


class _DiscBlock(nn.Module):
    """Residual block: two 3x3 convs, average-pool down, 1x1 skip."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3,
                                 activation=True)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3,
                                 activation=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.avg_pool2d(self.skip(x), 2)
        x = F.avg_pool2d(self.conv1(self.conv0(x)), 2)
        return (x + y) / _SQRT2


def minibatch_stddev(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """Append one channel: the standard deviation of each feature over a
    group of samples, averaged over features and positions (StyleGAN's
    minibatch standard deviation; groups of ``min(group_size, B)`` with
    ``B`` divisible by it, else the whole batch)."""
    b, c, h, w = x.shape
    g = min(group_size, b)
    if b % g:
        g = b
    y = x.reshape(g, -1, c, h, w)
    y = (y.var(0, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))  # (B/g,)
    y = y.repeat(g)[:, None, None, None].expand(b, 1, h, w)
    return torch.cat([x, y], 1)


@MODELS.register_module()
class StyleGAN2Discriminator(BaseModule):
    """StyleGAN2-style residual discriminator with projection conditioning.

    Args:
        resolution (int): input size R (a power of 2, >= 8).
        img_channels (int): image channels.
        cond_dim (int): conditioning size; 0 = unconditional (1 logit).
            Defaults to 0.
        cmap_dim (int, optional): projection size; defaults to the
            channels at 4x4.
        channel_base (int): Defaults to 4096.
        channel_max (int): Defaults to 128.
        mbstd_group_size (int): group of the minibatch standard deviation.
            Defaults to 4.
        cond_mapping_layers (int): MLP layers mapping ``h`` to ``cmap``.
            Defaults to 2.
        init_cfg (dict, optional): mmengine init config.

    ``forward(img, cond=None)`` returns logits of shape (B, 1); with a
    conditioning feature the logit is ``<out(img), cmap(h)> /
    sqrt(cmap_dim)``.
    """

    def __init__(self,
                 resolution: int,
                 img_channels: int = 3,
                 cond_dim: int = 0,
                 cmap_dim: Optional[int] = None,
                 channel_base: int = 4096,
                 channel_max: int = 128,
                 mbstd_group_size: int = 4,
                 cond_mapping_layers: int = 2,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        log2 = _check_resolution(resolution)
        if cond_dim < 0:
            raise ValueError(f'cond_dim must be >= 0, got {cond_dim}')
        self.resolution = resolution
        self.img_channels = img_channels
        self.cond_dim = cond_dim
        self.mbstd_group_size = mbstd_group_size
        ch = {2**i: _channels(2**i, channel_base, channel_max)
              for i in range(2, log2 + 1)}
        self.from_rgb = EqualConv2d(img_channels, ch[resolution], 1,
                                    activation=True)
        self.blocks = nn.Sequential(*[
            _DiscBlock(ch[2**i], ch[2**(i - 1)])
            for i in range(log2, 2, -1)
        ])
        c4 = ch[4]
        self.cmap_dim = (cmap_dim or c4) if cond_dim > 0 else 1
        self.epilogue_conv = EqualConv2d(c4 + 1, c4, 3, activation=True)
        self.epilogue_fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, self.cmap_dim)
        self.cond_mapping = (nn.Sequential(*[
            EqualLinear(cond_dim if i == 0 else self.cmap_dim,
                        self.cmap_dim, activation=True)
            for i in range(cond_mapping_layers)
        ]) if cond_dim > 0 else None)

    def forward(self, img: torch.Tensor,
                cond: Optional[torch.Tensor] = None) -> torch.Tensor:
        r = self.resolution
        if img.dim() != 4 or img.shape[1:] != (self.img_channels, r, r):
            raise ValueError('img must have shape (B, '
                             f'{self.img_channels}, {r}, {r}), got '
                             f'{tuple(img.shape)}')
        if (cond is None) != (self.cond_dim == 0):
            raise ValueError('cond must be given exactly when cond_dim > 0 '
                             f'(cond_dim={self.cond_dim})')
        x = self.blocks(self.from_rgb(img))
        x = minibatch_stddev(x, self.mbstd_group_size)
        x = self.epilogue_fc(self.epilogue_conv(x).flatten(1))
        out = self.out(x)
        if self.cond_mapping is None:
            return out
        if cond.shape != (img.shape[0], self.cond_dim):
            raise ValueError(f'cond must have shape (B, {self.cond_dim}), '
                             f'got {tuple(cond.shape)}')
        cmap = self.cond_mapping(cond.to(out.dtype))
        return (out * cmap).sum(1, keepdim=True) / math.sqrt(self.cmap_dim)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameter count of a module (logged by the GAN model)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = [
    'StyleGAN2Generator', 'StyleGAN2Discriminator', 'EqualLinear',
    'EqualConv2d', 'ModulatedConv2d', 'minibatch_stddev', 'count_parameters'
]
