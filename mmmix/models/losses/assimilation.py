"""Loss modules of A2 ("On Assimilating Learned Views in Contrastive
Learning"): thin wrappers over :mod:`mmmix.ops.assimilation`.

Every module returns a quantity to *minimise*, multiplied by
``loss_weight`` (the SupContrast codebase scales every loss by
``tau / 0.07``, 7.142857 at ``tau = 0.5``: spec ambiguity A11). The A2
objective is ``CrossViewInfoNCELoss(z1, z2) + AlignmentLoss(z1, z2, zg)``:
:class:`AlignmentLoss` returns the *negative* alignment.
"""
import torch
import torch.nn as nn

from mmmix.ops.assimilation import (
    ALIGN_ANCHORS,
    Generated,
    a2_full_loss,
    alignment_term,
    cross_view_infonce,
)
from mmmix.registry import MODELS


def _check(temperature, loss_weight):
    if not float(temperature) > 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    if not float(loss_weight) >= 0:
        raise ValueError(f'loss_weight must be >= 0, got {loss_weight}')
    return float(temperature), float(loss_weight)


@MODELS.register_module()
class CrossViewInfoNCELoss(nn.Module):
    """Cross-view InfoNCE (Eq. 12), the ``L_CL`` of A2.

    ``loss_weight * (CE(z1 z2^T / tau, diag) + CE(z2 z1^T / tau, diag)) / 2``
    on L2-normalised embeddings.

    Args:
        temperature (float): ``tau`` > 0. Defaults to 0.5.
        loss_weight (float): >= 0. Defaults to 1.0.
    """

    def __init__(self, temperature: float = 0.5,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.temperature, self.loss_weight = _check(temperature, loss_weight)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Loss of ``(N, d)`` expert embeddings ``z1``, ``z2``."""
        return self.loss_weight * cross_view_infonce(z1, z2, self.temperature)


@MODELS.register_module()
class AlignmentLoss(nn.Module):
    """Negative A2 alignment: ``-loss_weight * L_align`` (mean form).

    ``L_align = alpha / tau * mean_i (1/k) sum_p z_i . z_p`` over the expert
    anchors ``i`` and the ``k`` generated views ``p`` of the same image
    (:func:`mmmix.ops.assimilation.alignment_term`); the module returns it
    negated, so that adding it to a contrastive loss gives A2's Eq. 4. The
    value lies in ``[-loss_weight * alpha / tau, loss_weight * alpha /
    tau]``.

    Args:
        alpha (float): >= 0. Defaults to 0.5 (the paper's).
        temperature (float): ``tau`` > 0. Defaults to 0.5.
        anchors (str): ``'all'`` (both expert views, Eq. 4) or ``'first'``
            (view 1 only, the CIFAR10 reference code). Defaults to
            ``'all'``.
        loss_weight (float): >= 0. Defaults to 1.0.
    """

    def __init__(self, alpha: float = 0.5, temperature: float = 0.5,
                 anchors: str = 'all', loss_weight: float = 1.0) -> None:
        super().__init__()
        self.temperature, self.loss_weight = _check(temperature, loss_weight)
        if not float(alpha) >= 0:
            raise ValueError(f'alpha must be >= 0, got {alpha}')
        if anchors not in ALIGN_ANCHORS:
            raise ValueError(f'anchors must be one of {ALIGN_ANCHORS}, got '
                             f'{anchors!r}')
        self.alpha = float(alpha)
        self.anchors = anchors

    def forward(self, z1: torch.Tensor, z2, zg: Generated) -> torch.Tensor:
        """Loss of expert embeddings ``(N, d)`` and generated ones
        (``(N, d)``, ``(k, N, d)`` or ``k`` tensors ``(N, d)``); ``z2`` may
        be None with ``anchors='first'``."""
        return -self.loss_weight * alignment_term(
            z1, z2, zg, self.alpha, self.temperature, self.anchors)


@MODELS.register_module()
class A2FullLoss(nn.Module):
    """A2-full (Eq. 13, SupCon sign): multi-positive InfoNCE over all
    ``(2 + k) N`` rows, mean over the anchors.

    Generated views are anchors, positives of the other views of their image
    and negatives of every other image. With ``k = 0`` it is NT-Xent.

    Args:
        temperature (float): ``tau`` > 0. Defaults to 0.5.
        loss_weight (float): >= 0. Defaults to 1.0.
    """

    def __init__(self, temperature: float = 0.5,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.temperature, self.loss_weight = _check(temperature, loss_weight)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor,
                zg: Generated = None) -> torch.Tensor:
        """Loss of expert embeddings ``(N, d)`` and generated ones."""
        return self.loss_weight * a2_full_loss(z1, z2, zg, self.temperature)
