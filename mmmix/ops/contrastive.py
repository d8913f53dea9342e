"""Per-sample pair losses of contrastive and latent-prediction methods.

CLIM (Li et al., 2020) weights two positives of one query per sample,
``lam * l(q, k_a) + (1 - lam) * l(q, k_p)``: these functions return the
per-sample terms so that the weighting stays a cheap elementwise product.
"""
import torch
import torch.nn.functional as F


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


__all__ = ['nce_pair_losses', 'cosine_pair_losses', 'mixed_pair_loss']
