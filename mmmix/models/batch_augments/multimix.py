"""MultiMix and Dense MultiMix as mixing components of MixupClassifier."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from mmmix.ops.multimix import (
    ATTENTION_ACTS,
    ATTENTIONS,
    dense_attention,
    dense_multimix_loss,
    dirichlet_weights,
    multimix,
)
from mmmix.registry import BATCH_AUGMENTS


def _check(n, m, alpha, alpha_range, name):
    if not isinstance(n, int) or n < 1:
        raise ValueError(f'{name}: n must be an integer >= 1, got {n!r}')
    if m is not None and (not isinstance(m, int) or m < 1):
        raise ValueError(f'{name}: m must be None or an integer >= 1, got '
                         f'{m!r}')
    if alpha is not None and not alpha > 0:
        raise ValueError(f'{name}: alpha must be > 0, got {alpha}')
    low, high = alpha_range
    if not 0 < low <= high:
        raise ValueError(f'{name}: alpha_range must be (low, high) with 0 < '
                         f'low <= high, got {tuple(alpha_range)}')


@BATCH_AUGMENTS.register_module()
class MultiMix:
    """MultiMix (thesis ch. 5): ``n`` convex combinations of the batch.

    ``mixed, mixed_scores = MultiMix(...)(x, scores)`` with ``x`` ``(b,
    ...)`` returns ``(n, ...)`` rows ``Lambda^T x`` and the targets
    ``Lambda^T scores`` mixed with the same weights; column ``k`` of
    ``Lambda`` is ``Dir(alpha_k)`` over ``m`` examples (the whole batch by
    default), ``alpha_k ~ U[alpha_range]`` unless ``alpha`` is fixed.

    In :class:`~mmmix.models.MixupClassifier` use it at ``level='logits'``:
    mixing the logits of a head whose last layer is linear equals mixing
    its input (the columns of ``Lambda`` sum to one) and costs ``O(b c n)``
    instead of ``O(n d c)`` with no ``(n, d)`` activation.

    Args:
        n (int): generated examples per batch, >= 1. Defaults to 1000.
        m (int, optional): examples per combination, in [1, b]; all of the
            batch by default.
        alpha (float, optional): fixed Dirichlet parameter (ablation).
        alpha_range (tuple): range of the per-column ``alpha``. Defaults to
            (0.5, 2.0).
    """

    def __init__(self, n: int = 1000, m: Optional[int] = None,
                 alpha: Optional[float] = None,
                 alpha_range: Sequence[float] = (0.5, 2.0)):
        _check(n, m, alpha, alpha_range, 'MultiMix')
        self.n, self.m, self.alpha = n, m, alpha
        self.alpha_range = tuple(alpha_range)

    def weights(self, b: int, device=None, groups=()) -> torch.Tensor:
        if self.m is not None and self.m > b:
            raise ValueError(f'{type(self).__name__}: m={self.m} exceeds '
                             f'the batch size {b}')
        return dirichlet_weights(b, self.n, self.m, self.alpha,
                                 self.alpha_range, groups=groups,
                                 device=device)

    def __call__(self, x: torch.Tensor, scores: torch.Tensor):
        lam = self.weights(x.shape[0], x.device)
        self.last_lam = lam
        return multimix(x, scores.float(), lam)


@BATCH_AUGMENTS.register_module()
class DenseMultiMix(MultiMix):
    """Dense MultiMix (thesis §5.3.3): per-position MultiMix with attention.

    Used by :class:`~mmmix.models.MixupClassifier` at ``level='dense'``: the
    backbone's last feature map ``(b, d, h, w)`` is kept spatial, the linear
    head is applied at every position (a 1x1 conv), each position ``j`` gets
    its own ``Lambda^j``, scaled by the examples' attention at ``j`` and
    renormalised, and the per-position cross-entropy is weighted by the
    pre-normalisation column sums (eq. 5.14); positions are averaged.

    Args:
        n, m, alpha, alpha_range: as for :class:`MultiMix`.
        attention (str): ``'gap'`` (default), ``'cam'`` or ``'none'``.
        attention_act (str): ``'l1_relu'`` (default) or ``'softmax'``.
        dense_loss_only (bool): the "MultiMix*" ablation (one ``Lambda`` for
            all positions, no attention, unweighted dense loss).
        resolution (int, optional): average-pool the map to
            ``resolution x resolution`` first (the dense-resolution
            ablation: 1x1 and 2x2 on CIFAR's 4x4 map); the map as is by
            default.
    """

    def __init__(self, n: int = 1000, m: Optional[int] = None,
                 alpha: Optional[float] = None,
                 alpha_range: Sequence[float] = (0.5, 2.0),
                 attention: str = 'gap', attention_act: str = 'l1_relu',
                 dense_loss_only: bool = False,
                 resolution: Optional[int] = None):
        _check(n, m, alpha, alpha_range, 'DenseMultiMix')
        if attention not in ATTENTIONS:
            raise ValueError(f'DenseMultiMix: attention must be one of '
                             f'{ATTENTIONS}, got {attention!r}')
        if attention_act not in ATTENTION_ACTS:
            raise ValueError(f'DenseMultiMix: attention_act must be one of '
                             f'{ATTENTION_ACTS}, got {attention_act!r}')
        if resolution is not None and (not isinstance(resolution, int)
                                       or resolution < 1):
            raise ValueError('DenseMultiMix: resolution must be None or an '
                             f'integer >= 1, got {resolution!r}')
        super().__init__(n, m, alpha, alpha_range)
        self.resolution = resolution
        self.attention = attention
        self.attention_act = attention_act
        self.dense_loss_only = dense_loss_only

    def __call__(self, x, scores):
        raise TypeError("DenseMultiMix computes a loss: use it at "
                        "level='dense' of MixupClassifier")

    def loss(self, feats: torch.Tensor, scores: torch.Tensor,
             fc: torch.nn.Linear, labels: Optional[torch.Tensor] = None
             ) -> torch.Tensor:
        """Dense MultiMix loss of a ``(b, d, h, w)`` map and a linear fc."""
        if feats.dim() != 4:
            raise ValueError('DenseMultiMix needs (b, d, h, w) feature maps,'
                             f' got {tuple(feats.shape)}')
        if self.resolution is not None:
            if min(feats.shape[-2:]) < self.resolution:
                raise ValueError(
                    f'DenseMultiMix: resolution={self.resolution} exceeds '
                    f'the {feats.shape[-2]}x{feats.shape[-1]} feature map')
            feats = F.adaptive_avg_pool2d(feats, self.resolution)
        z = feats.flatten(2)
        b, _, r = z.shape
        logits = torch.einsum('bdr,cd->bcr', z, fc.weight)
        if fc.bias is not None:
            logits = logits + fc.bias[:, None]
        if self.dense_loss_only:
            lam = self.weights(b, z.device)
            return dense_multimix_loss(logits, scores, None, lam, True)
        attn = dense_attention(z, self.attention, self.attention_act,
                               fc.weight, labels)
        lam = self.weights(b, z.device, groups=(r, ))
        return dense_multimix_loss(logits, scores, attn, lam)
