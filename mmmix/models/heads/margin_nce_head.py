"""InterCLR's MarginNCE: InfoNCE with a decision margin on the positive."""
import math

import torch
from mmpretrain.models.heads import ContrastiveHead

from mmmix.ops.contrastive import MARGIN_TYPES, margin_positive
from mmmix.registry import MODELS


@MODELS.register_module()
class MarginNCEHead(ContrastiveHead):
    """InfoNCE with a decision margin on the positive (InterCLR's MarginNCE).

    ``loss(pos, neg)`` takes the cosine similarities of the positives
    ``(b, 1)`` and of the negatives ``(b, K)``, replaces the positive by
    :func:`mmmix.ops.margin_positive` (``cos - m`` or the angular
    ``cos(theta + m)``) and returns mmpretrain's contrastive loss,
    ``CE([pos', neg] / t, 0)``: the negatives are untouched, and ``m = 0``
    is ``ContrastiveHead`` exactly.

    Args:
        loss (dict): the classification loss. Defaults to cross-entropy.
        temperature (float): ``t`` > 0. Defaults to 0.2.
        margin (float): ``m``; InterCLR uses 0 for the intra-image branch
            and -0.5 for the inter-image one. Defaults to 0.
        margin_type (str): ``'cos'`` (default) or ``'arc'``.
    """

    def __init__(self, loss: dict = dict(type='CrossEntropyLoss'),
                 temperature: float = 0.2, margin: float = 0.,
                 margin_type: str = 'cos', init_cfg=None) -> None:
        super().__init__(loss=loss, temperature=temperature,
                         init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if margin_type not in MARGIN_TYPES:
            raise ValueError(f'margin_type must be one of {MARGIN_TYPES}, '
                             f'got {margin_type!r}')
        if margin_type == 'arc' and not -math.pi / 2 < margin < math.pi / 2:
            raise ValueError('an arc margin must be in (-pi/2, pi/2), got '
                             f'{margin}')
        self.margin = float(margin)
        self.margin_type = margin_type

    def loss(self, pos: torch.Tensor, neg: torch.Tensor,
             temperature=None) -> torch.Tensor:
        """Mean MarginNCE; ``temperature`` overrides the head's."""
        if pos.dim() != 2 or pos.shape[1] != 1 or neg.dim() != 2 or \
                neg.shape[0] != pos.shape[0]:
            raise ValueError('pos must be (b, 1) and neg (b, K), got '
                             f'{tuple(pos.shape)} and {tuple(neg.shape)}')
        t = self.temperature if temperature is None else temperature
        pos = margin_positive(pos, self.margin, self.margin_type)
        logits = torch.cat((pos, neg), dim=1) / t
        labels = torch.zeros(pos.shape[0], dtype=torch.long,
                             device=pos.device)
        return self.loss_module(logits, labels)
