"""Residual image decoder of AlignMixup/AE (experimental)."""
import numbers
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmmix.registry import MODELS

#: the largest initial map :class:`ResidualDecoder` accepts (its linear
#: layer has ``in_dim * base_channels * s0 * s0`` weights)
MAX_INIT_SIZE = 16


def decoder_layout(out_size: int) -> Tuple[int, int]:
    """``(s0, n)``: initial map size and number of upsampling blocks.

    ``n`` is the largest integer with ``out_size % 2**n == 0`` and
    ``out_size / 2**n >= 4``, and ``s0 = out_size / 2**n``; e.g. 28 -> (7, 2),
    32 -> (4, 3), 64 -> (4, 4), 224 -> (7, 5).

    Raises:
        ValueError: if ``out_size`` is not an integer, allows no upsampling
            block (odd, or below 8) or needs an initial map larger than
            :data:`MAX_INIT_SIZE`.
    """
    if (not isinstance(out_size, numbers.Integral)
            or isinstance(out_size, bool)):
        raise ValueError(f'out_size must be an integer, got {out_size!r}')
    n = 0
    while out_size % 2**(n + 1) == 0 and out_size // 2**(n + 1) >= 4:
        n += 1
    s0 = out_size // 2**n
    if n == 0 or s0 > MAX_INIT_SIZE:
        raise ValueError(
            f'out_size={out_size} cannot be reached: it must be s0 * 2**n '
            f'with n >= 1 upsampling blocks and an initial map of 4 <= s0 <= '
            f'{MAX_INIT_SIZE} (e.g. 28, 32, 64, 224)')
    return s0, n


class UpResBlock(nn.Module):
    """Residual block that doubles the resolution (WGAN-GP generator).

    ``BN-ReLU-Upsample-conv3x3-BN-ReLU-conv3x3`` plus the shortcut
    ``Upsample-conv1x1``; upsampling is nearest-neighbour x2. The first conv
    has no bias (a BN follows), nor has the shortcut (the second conv's bias
    serves the sum).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode='nearest'),
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.shortcut = nn.Sequential(
            nn.Upsample(scale_factor=2, mode='nearest'),
            nn.Conv2d(in_channels, out_channels, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


@MODELS.register_module()
class ResidualDecoder(BaseModule):
    """Decoder D of AlignMixup/AE: embedding ``(N, in_dim)`` -> image.

    **Experimental.** The thesis (§3.4, Table 3.2) only says D is a residual
    generator [Gulrajani et al., 2017] mapping the embedding back to image
    space; its layers are not given (spec A8-10). This is a WGAN-GP-style
    ResNet generator:

    ``Linear(in_dim -> base_channels * s0 * s0)`` -> reshape to
    ``(base_channels, s0, s0)`` -> ``n`` :class:`UpResBlock` (each doubles
    the resolution) -> ``BN-ReLU-conv3x3(out_channels)`` -> optional tanh.

    ``s0`` and ``n`` follow from ``out_size`` (:func:`decoder_layout`): 28 ->
    7x7 and 2 blocks, 32 -> 4x4 and 3, 64 -> 4x4 and 4, 224 -> 7x7 and 5.
    Block ``i`` (from 0) maps ``max(base_channels // 2**i, min_channels)``
    to ``max(base_channels // 2**(i + 1), min_channels)`` channels, i.e. the
    width halves per block down to ``min_channels`` (or stays
    ``base_channels`` if that is smaller); e.g. 256-128-64-32 for 32x32 and
    256-128-64-32-32-32 for 224x224.

    The output has no activation by default: the reconstruction targets are
    the normalised input images (spec A8-10), which are not in [-1, 1]. Use
    ``out_act='tanh'`` for targets scaled to [-1, 1].

    Args:
        in_dim (int): embedding dimension ``d``.
        out_channels (int): image channels. Defaults to 3.
        out_size (int): image height and width. Defaults to 32.
        base_channels (int): channels of the initial map. Defaults to 256.
        min_channels (int): lower bound of the block widths. Defaults to 32.
        out_act (str, optional): ``None`` or ``'tanh'``. Defaults to None.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_dim: int,
                 out_channels: int = 3,
                 out_size: int = 32,
                 base_channels: int = 256,
                 min_channels: int = 32,
                 out_act: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_dim', in_dim),
                            ('out_channels', out_channels),
                            ('base_channels', base_channels),
                            ('min_channels', min_channels)):
            if (not isinstance(value, numbers.Integral)
                    or isinstance(value, bool) or value < 1):
                raise ValueError(f'{name} must be a positive integer, got '
                                 f'{value!r}')
        if out_act not in (None, 'tanh'):
            raise ValueError(f"out_act must be None or 'tanh', got "
                             f'{out_act!r}')
        self.init_size, self.num_blocks = decoder_layout(out_size)
        self.in_dim = int(in_dim)
        self.out_channels = int(out_channels)
        self.out_size = int(out_size)
        self.base_channels = int(base_channels)
        self.out_act = out_act

        floor = min(min_channels, base_channels)  # widths never grow
        widths = [
            max(base_channels // 2**i, floor)
            for i in range(self.num_blocks + 1)
        ]
        self.fc = nn.Linear(in_dim, base_channels * self.init_size**2)
        self.blocks = nn.Sequential(*(UpResBlock(c_in, c_out)
                                      for c_in, c_out in zip(
                                          widths[:-1], widths[1:])))
        self.to_image = nn.Sequential(
            nn.BatchNorm2d(widths[-1]), nn.ReLU(inplace=True),
            nn.Conv2d(widths[-1], out_channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Decode ``x`` of shape ``(N, in_dim)`` to
        ``(N, out_channels, out_size, out_size)``."""
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f'expected an input of shape (N, {self.in_dim}),'
                             f' got {tuple(x.shape)}')
        h = self.fc(x).view(-1, self.base_channels, self.init_size,
                            self.init_size)
        out = self.to_image(self.blocks(h))
        return torch.tanh(out) if self.out_act == 'tanh' else out
