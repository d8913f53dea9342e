"""Per-sample pair losses of contrastive and latent-prediction methods.

CLIM (Li et al., 2020) weights two positives of one query per sample,
``lam * l(q, k_a) + (1 - lam) * l(q, k_p)``: these functions return the
per-sample terms so that the weighting stays a cheap elementwise product.
"""
import math

import torch
import torch.nn.functional as F

MARGIN_TYPES = ('cos', 'arc')


def _stack_keys(keys) -> torch.Tensor:
    if isinstance(keys, torch.Tensor):
        return keys if keys.dim() == 3 else keys[None]
    return torch.stack(list(keys))


def nce_pair_losses(query: torch.Tensor, keys, queue: torch.Tensor,
                    temperature: float) -> torch.Tensor:
    """InfoNCE of one query against several positives and a shared queue.

    For each positive ``k_j`` this is ``-log softmax([q.k_j, q.Q] / t)[0]``,
    the cross-entropy of MoCo's ``ContrastiveHead`` on the logits
    ``[q.k_j | q.Q]`` with target 0: one softmax per positive, all sharing
    the negatives, whose log-sum-exp is computed once. Logits are formed in
    float32 (stable under fp16 autocast).

    Args:
        query (Tensor): ``(b, d)`` L2-normalised queries.
        keys (Tensor | Sequence[Tensor]): ``(p, b, d)`` or ``p`` tensors
            ``(b, d)``: L2-normalised positives (detached by the caller).
        queue (Tensor): ``(d, K)`` L2-normalised negatives.
        temperature (float): > 0.

    Returns:
        Tensor: ``(p, b)`` per-sample losses.
    """
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    keys = _stack_keys(keys)
    q = query.float()
    lse_neg = torch.logsumexp(q @ queue.float() / temperature, dim=1)
    pos = torch.einsum('bd,pbd->pb', q, keys.float()) / temperature
    return torch.logaddexp(pos, lse_neg) - pos


def cosine_pair_losses(pred: torch.Tensor, keys, shift: float = 0.,
                       scale: float = 1.) -> torch.Tensor:
    """``shift - scale * cos(pred, k_j)`` per sample and positive.

    The per-sample form of mmpretrain's ``CosineSimilarityLoss`` (BYOL uses
    ``shift=2, scale=2``, SimSiam ``0, 1``): its mean over the batch is that
    loss.

    Args:
        pred (Tensor): ``(b, d)`` predictions.
        keys (Tensor | Sequence[Tensor]): ``(p, b, d)`` or ``p`` tensors
            ``(b, d)``: targets (detached by the caller).

    Returns:
        Tensor: ``(p, b)`` per-sample losses.
    """
    keys = _stack_keys(keys)
    pred = F.normalize(pred, dim=-1)
    keys = F.normalize(keys, dim=-1)
    return shift - scale * torch.einsum('bd,pbd->pb', pred, keys)


def mixed_pair_loss(losses: torch.Tensor,
                    lam: torch.Tensor) -> torch.Tensor:
    """Eq. 4 of CLIM: ``mean_b(lam * l_a + (1 - lam) * l_p)``.

    Args:
        losses (Tensor): ``(2, b)``: per-sample losses against the anchor's
            key (row 0) and the positive's key (row 1).
        lam (Tensor): ``(b,)`` weight of the anchor (the area of the mixed
            image that comes from the anchor).

    Returns:
        Tensor: scalar.
    """
    lam = lam.to(losses.dtype)
    return (lam * losses[0] + (1 - lam) * losses[1]).mean()


def margin_positive(cos_pos: torch.Tensor, margin: float,
                    margin_type: str = 'cos') -> torch.Tensor:
    """The positive cosine with InterCLR's decision margin (MarginNCE).

    ``'cos'``: ``cos - m`` (Eq. 5 of InterCLR; ``m > 0`` is stricter,
    ``m < 0`` looser). ``'arc'``: the additive angular margin
    ``cos(theta + m)`` where it is monotone in ``theta`` and its linear
    continuation elsewhere (ArcFace's rule): for ``m > 0``,
    ``cos - m sin(pi - m)`` once ``theta > pi - m``; for ``m < 0``,
    ``cos + m sin(m)`` while ``theta < -m``. ``m = 0`` returns ``cos_pos``.

    Args:
        cos_pos (Tensor): cosine similarities of the positives, any shape.
        margin (float): ``m``.
        margin_type (str): ``'cos'`` or ``'arc'``.
    """
    if margin_type not in MARGIN_TYPES:
        raise ValueError(f'margin_type must be one of {MARGIN_TYPES}, got '
                         f'{margin_type!r}')
    if margin == 0:
        return cos_pos
    if margin_type == 'cos':
        return cos_pos - margin
    sin = (1 - cos_pos.pow(2)).clamp(0, 1).sqrt()
    phi = cos_pos * math.cos(margin) - sin * math.sin(margin)
    if margin > 0:
        valid = cos_pos > math.cos(math.pi - margin)
        fallback = cos_pos - math.sin(math.pi - margin) * margin
    else:
        valid = cos_pos < math.cos(margin)
        fallback = cos_pos + math.sin(margin) * margin
    return torch.where(valid, phi, fallback)


__all__ = ['nce_pair_losses', 'cosine_pair_losses', 'mixed_pair_loss',
           'margin_positive', 'MARGIN_TYPES']
