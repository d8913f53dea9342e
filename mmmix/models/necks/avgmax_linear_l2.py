"""GAP + GMP, a linear embedding and l2 normalisation (DML necks)."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmix.ops.metrix import mix
from mmmix.registry import MODELS


@MODELS.register_module()
class AvgMaxPoolLinearL2Neck(BaseModule):
    """Deep-metric-learning neck: ``l2(W (GAP(F) + GMP(F)) + b)``.

    The pooled maps are summed, not concatenated (as in the Proxy Anchor
    and Metrix code); the linear layer is kaiming-normal (fan-out) with a
    zero bias.

    :meth:`forward_mixed` embeds feature-map mixes ``lam F_i + (1-lam)
    F_j`` without materialising them: GAP is linear, so the mixed GAP is the
    mix of the GAPs, and the mixed GMP is read at the arg-max positions,
    found chunk by chunk without autograd. Memory is ``O(K c)`` instead of
    ``O(K c h w)`` and the result equals :meth:`forward` on the explicit
    mixes (tested).

    Args:
        in_channels (int): channels of the feature map.
        out_channels (int): embedding size ``d``.
        normalize (bool): l2-normalise the embedding. Defaults to True.
        chunk_size (int): mixes per chunk in the arg-max search.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 normalize: bool = True, chunk_size: int = 1024,
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        if chunk_size < 1:
            raise ValueError('AvgMaxPoolLinearL2Neck: chunk_size must be >= '
                             f'1, got {chunk_size}')
        self.fc = nn.Linear(in_channels, out_channels)
        self.normalize = normalize
        self.chunk_size = chunk_size
        nn.init.kaiming_normal_(self.fc.weight, mode='fan_out')
        nn.init.zeros_(self.fc.bias)

    def embed(self, pooled: torch.Tensor) -> torch.Tensor:
        z = self.fc(pooled)
        return F.normalize(z, dim=1) if self.normalize else z

    def forward(self, inputs):
        x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
        if x.dim() != 4:
            raise ValueError('AvgMaxPoolLinearL2Neck needs (b, c, h, w) maps,'
                             f' got {tuple(x.shape)}')
        pooled = x.mean((2, 3)) + x.amax((2, 3))
        return (self.embed(pooled), )

    def forward_mixed(self, inputs, i_idx: torch.Tensor,
                      j_idx: torch.Tensor, lam) -> torch.Tensor:
        """Embeddings ``(K, d)`` of ``lam x[i] + (1 - lam) x[j]``."""
        x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
        flat = x.flatten(2)                               # (b, c, hw)
        gap = mix(flat.mean(2), i_idx, j_idx, lam)        # (K, c)
        lam_t = torch.as_tensor(lam, dtype=x.dtype, device=x.device)
        arg = []
        with torch.no_grad():
            for start in range(0, len(i_idx), self.chunk_size):
                sl = slice(start, start + self.chunk_size)
                lam_c = lam_t if lam_t.dim() == 0 else lam_t[sl]
                arg.append(mix(flat, i_idx[sl], j_idx[sl],
                               lam_c).argmax(2))
        arg = torch.cat(arg) if arg else i_idx.new_zeros(0, x.shape[1])
        chans = torch.arange(x.shape[1], device=x.device)[None]
        at_i = flat[i_idx[:, None], chans, arg]
        at_j = flat[j_idx[:, None], chans, arg]
        lam_v = lam_t if lam_t.dim() == 0 else lam_t[:, None]
        gmp = torch.lerp(at_j, at_i, lam_v)
        return self.embed(gap + gmp)
