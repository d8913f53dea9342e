"""DINO's projection head: MLP, L2 bottleneck, weight-normalised prototypes."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch.nn.utils.parametrizations import weight_norm

from mmmix.registry import MODELS


@MODELS.register_module()
class DINOHead(BaseModule):
    """DINO head ``h(x)``: MLP -> L2-normalised bottleneck -> WN prototypes.

    ``Linear(in, hidden) - GELU - [Linear(hidden, hidden) - GELU] * (L - 2) -
    Linear(hidden, bottleneck)``, then ``y / |y|`` and a bias-free
    weight-normalised ``Linear(bottleneck, out)`` whose rows have norm ``g``
    (``weight = g v / |v|``, one ``g`` per output unit). The last layer is
    named ``last_layer`` so that :class:`mmmix.DINOOptimWrapper` can freeze
    it during the first epoch(s). MLP weights are initialised with a
    truncated normal (std 0.02) and zero biases as in DINO.

    Args:
        in_channels (int): backbone feature size (384 for ViT-S).
        out_channels (int): ``K`` prototypes. Defaults to 65536.
        hidden_channels (int): MLP width. Defaults to 2048.
        bottleneck_channels (int): Defaults to 256.
        num_layers (int): MLP layers (>= 1). Defaults to 3.
        use_bn (bool): BatchNorm after the hidden layers (DINO's ResNet
            setting). Defaults to False.
        norm_last_layer (bool): freeze ``g`` at 1 (DINO's default True;
            DoRA's ViT-S uses False). Defaults to True.
    """

    def __init__(self, in_channels: int, out_channels: int = 65536,
                 hidden_channels: int = 2048,
                 bottleneck_channels: int = 256, num_layers: int = 3,
                 use_bn: bool = False, norm_last_layer: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels),
                            ('hidden_channels', hidden_channels),
                            ('bottleneck_channels', bottleneck_channels)):
            if value < 1:
                raise ValueError(f'{name} must be >= 1, got {value}')
        layers = []
        dims = [in_channels] + [hidden_channels] * (num_layers - 1)
        for i in range(num_layers - 1):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if use_bn:
                layers.append(nn.BatchNorm1d(dims[i + 1]))
            layers.append(nn.GELU())
        layers.append(nn.Linear(dims[-1], bottleneck_channels))
        self.mlp = nn.Sequential(*layers)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=.02)
                nn.init.zeros_(m.bias)
        self.last_layer = weight_norm(
            nn.Linear(bottleneck_channels, out_channels, bias=False))
        gain = self.last_layer.parametrizations.weight.original0
        with torch.no_grad():
            gain.fill_(1.)
        gain.requires_grad_(not norm_last_layer)
        self.norm_last_layer = norm_last_layer

    def init_weights(self) -> None:
        """Keep DINO's initialisation (no generic re-initialisation)."""
        if self.init_cfg is not None:
            super().init_weights()

    def forward(self, x) -> torch.Tensor:
        """``(B, in)`` features (or a backbone tuple) -> ``(B, K)`` logits."""
        if isinstance(x, (tuple, list)):
            x = x[-1]
        x = F.normalize(self.mlp(x), dim=-1)
        return self.last_layer(x)
