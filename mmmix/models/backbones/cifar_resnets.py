"""CIFAR backbones of the AlignMixup / MultiMix code: PreAct ResNet and WRN.

mmpretrain has neither. Both follow the official code's layer definitions
(see ``../shared/specs/alignmixup_multimix.md`` C-U1), including its quirks,
and return the outputs of the stages listed in ``out_indices``.
"""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmmix.registry import MODELS


def _check_out_indices(out_indices, num_stages):
    out_indices = (out_indices, ) if isinstance(out_indices, int) else tuple(
        out_indices)
    for i in out_indices:
        if not -num_stages <= i < num_stages:
            raise ValueError(f'out_indices must be in [{-num_stages}, '
                             f'{num_stages - 1}], got {out_indices}')
    return tuple(i % num_stages for i in out_indices)


class PreActBlock(nn.Module):
    """``o = ReLU(BN(x))``; ``conv(ReLU(BN(conv_s(o)))) + shortcut(o)``.

    The shortcut (identity or 1x1 projection) takes the pre-activated ``o``,
    as in the official code (not the raw ``x`` of other PreAct versions).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1,
                               bias=False)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride,
                                      bias=False)

    def forward(self, x):
        o = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(o))))
        return out + (o if self.shortcut is None else self.shortcut(o))


@MODELS.register_module()
class PreActResNet(BaseBackbone):
    """Pre-activation ResNet for 32x32 / 64x64 images (PreActResNet-18).

    Stem conv3x3(in->64, no bias) -> BN -> ReLU; four stages of
    :class:`PreActBlock` with widths 64/128/256/512 and strides 1/2/2/2; no
    final BN-ReLU. 512x4x4 output at 32x32, 512x8x8 at 64x64.

    Args:
        depth (int): 18 (blocks 2-2-2-2) or 34 (3-4-6-3).
        in_channels (int): input channels. Defaults to 3.
        base_channels (int): width of the stem and first stage; stages are
            1x/2x/4x/8x this. Defaults to 64 (PreActResNet-18).
        out_indices (int | Sequence[int]): stages to return, in [0, 3].
            Defaults to (3, ).
        init_cfg (dict, optional): mmengine initialisation config.
    """
    arch_settings = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

    def __init__(self, depth: int = 18, in_channels: int = 3,
                 base_channels: int = 64,
                 out_indices: Sequence[int] = (3, ), init_cfg=None):
        super().__init__(init_cfg)
        if depth not in self.arch_settings:
            raise KeyError(f'depth must be one of '
                           f'{sorted(self.arch_settings)}, got {depth}')
        if not isinstance(base_channels, int) or base_channels < 1:
            raise ValueError(
                f'base_channels must be an integer >= 1, got {base_channels}')
        self.out_indices = _check_out_indices(out_indices, 4)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, base_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(base_channels), nn.ReLU(inplace=True))
        channels, self.layers = base_channels, []
        widths = [base_channels * m for m in (1, 2, 4, 8)]
        for i, (blocks, width, stride) in enumerate(
                zip(self.arch_settings[depth], widths, (1, 2, 2, 2))):
            layer = []
            for b in range(blocks):
                layer.append(PreActBlock(channels, width,
                                         stride if b == 0 else 1))
                channels = width
            self.add_module(f'layer{i + 1}', nn.Sequential(*layer))
            self.layers.append(f'layer{i + 1}')

    def forward(self, x):
        x = self.stem(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


class WideBasicBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3(stride) + shortcut(x), with biases."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 dropout: float = 0.):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=True)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride, 1,
                               bias=True)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride,
                                      bias=True)

    def forward(self, x):
        out = self.dropout(self.conv1(F.relu(self.bn1(x))))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + (x if self.shortcut is None else self.shortcut(x))


@MODELS.register_module()
class WideResNet(BaseBackbone):
    """Wide ResNet WRN-depth-k for CIFAR (WRN16-8 by default).

    conv3x3(in->16, bias) -> three stages of ``(depth - 4) / 6`` wide basic
    blocks, widths 16k/32k/64k, strides 1/2/2 -> BN -> ReLU. The final BN
    uses ``momentum=0.9`` as in the official code (PyTorch semantics: 0.9
    weight on the batch statistics; kept for fidelity). 512x8x8 output at
    32x32 for WRN16-8.

    Args:
        depth (int): 6n + 4. Defaults to 16.
        widen_factor (int): k. Defaults to 8.
        dropout (float): dropout between the convolutions. Defaults to 0.
        in_channels (int): input channels. Defaults to 3.
        out_indices (int | Sequence[int]): stages to return, in [0, 2];
            the last stage's output is taken after the final BN-ReLU.
            Defaults to (2, ).
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self, depth: int = 16, widen_factor: int = 8,
                 dropout: float = 0., in_channels: int = 3,
                 out_indices: Sequence[int] = (2, ), init_cfg=None):
        super().__init__(init_cfg)
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f'depth must be 6n + 4 with n >= 1, got {depth}')
        if widen_factor < 1 or not 0 <= dropout < 1:
            raise ValueError('widen_factor must be >= 1 and dropout in [0, '
                             f'1), got {widen_factor} and {dropout}')
        self.out_indices = _check_out_indices(out_indices, 3)
        n = (depth - 4) // 6
        widths = [16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=True)
        channels, self.layers = 16, []
        for i, (width, stride) in enumerate(zip(widths, (1, 2, 2))):
            layer = []
            for b in range(n):
                layer.append(WideBasicBlock(channels, width,
                                            stride if b == 0 else 1,
                                            dropout))
                channels = width
            self.add_module(f'layer{i + 1}', nn.Sequential(*layer))
            self.layers.append(f'layer{i + 1}')
        self.bn = nn.BatchNorm2d(channels, momentum=0.9)

    def forward(self, x):
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i == len(self.layers) - 1:
                x = F.relu(self.bn(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
