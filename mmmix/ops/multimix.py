"""MultiMix and Dense MultiMix interpolation (thesis ch. 5, eqs. 5.6-5.14).

Examples are rows here (``(b, ...)`` tensors); the thesis writes them as
columns. ``lam`` is the interpolation matrix ``Lambda`` of shape ``(b, n)``:
column ``k`` holds the convex weights of generated example ``k`` over the
``b`` batch examples.
"""
from typing import Optional, Sequence, Tuple

import torch

ATTENTIONS = ('gap', 'cam', 'none')
ATTENTION_ACTS = ('l1_relu', 'softmax')


def dirichlet_weights(b: int,
                      n: int,
                      m: Optional[int] = None,
                      alpha: Optional[float] = None,
                      alpha_range: Sequence[float] = (0.5, 2.0),
                      groups: Tuple[int, ...] = (),
                      device=None,
                      dtype=torch.float32) -> torch.Tensor:
    """Interpolation matrices with Dirichlet columns.

    Each column ``k`` is ``lam_k ~ Dir(alpha_k)`` over ``m`` examples (all
    ``b`` by default, else a random subset of ``m`` of them, the others
    weighing 0), with ``alpha_k ~ U[alpha_range]`` drawn per column unless a
    fixed ``alpha`` is given.

    Args:
        b (int): batch size, >= 1.
        n (int): generated examples, >= 1.
        m (int, optional): examples per interpolation, in [1, b].
        alpha (float, optional): fixed Dirichlet parameter, > 0.
        alpha_range (tuple): ``(low, high)`` with ``0 < low <= high``.
        groups (tuple): leading batch dimensions, e.g. ``(r, )`` for one
            matrix per position (Dense MultiMix).

    Returns:
        Tensor: ``groups + (b, n)``, non-negative, columns summing to 1.
    """
    m = b if m is None else m
    if not 1 <= m <= b:
        raise ValueError(f'm must be in [1, b={b}], got {m}')
    if n < 1:
        raise ValueError(f'n must be >= 1, got {n}')
    shape = tuple(groups) + (n, )
    if alpha is not None:
        if not alpha > 0:
            raise ValueError(f'alpha must be > 0, got {alpha}')
        conc = torch.full(shape, float(alpha), device=device)
    else:
        low, high = alpha_range
        if not 0 < low <= high:
            raise ValueError('alpha_range must be (low, high) with 0 < low '
                             f'<= high, got {tuple(alpha_range)}')
        conc = torch.empty(shape, device=device).uniform_(low, high)
    conc = conc[..., None].expand(shape + (m, )).contiguous()
    w = torch.distributions.Dirichlet(conc).sample()
    if m < b:
        idx = torch.rand(shape + (b, ), device=device).argsort(-1)[..., :m]
        w = torch.zeros(shape + (b, ), device=device).scatter_(-1, idx, w)
    return w.transpose(-1, -2).to(dtype)


def multimix(x: torch.Tensor, scores: torch.Tensor, lam: torch.Tensor
             ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(Lambda^T X, Lambda^T Y)`` (5.6, 5.7): ``(n, ...)`` mixed rows.

    With ``x`` the logits of a linear classifier this equals classifying the
    mixed embeddings, because the columns of ``lam`` sum to one.
    """
    if lam.dim() != 2 or lam.shape[0] != x.shape[0]:
        raise ValueError(f'lam must be (b={x.shape[0]}, n), got '
                         f'{tuple(lam.shape)}')
    lam_t = lam.t().to(x.dtype)
    mixed = (lam_t @ x.flatten(1)).view((lam.shape[1], ) + x.shape[1:])
    return mixed, lam_t.to(scores.dtype) @ scores


def dense_attention(feats: torch.Tensor,
                    attention: str = 'gap',
                    act: str = 'l1_relu',
                    cam_weight: Optional[torch.Tensor] = None,
                    labels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Attention ``a = h(z^T u)`` of each example over its positions (5.9).

    Args:
        feats (Tensor): ``(b, d, r)`` spatial embeddings.
        attention (str): ``'gap'`` (``u`` = mean over positions),
            ``'cam'`` (``u`` = classifier row of the label) or ``'none'``
            (uniform ``1/r``).
        act (str): ``'l1_relu'`` (ReLU then l1 normalisation; an all-zero
            map falls back to uniform) or ``'softmax'`` over positions.
        cam_weight (Tensor, optional): ``(c, d)`` classifier weights (CAM).
        labels (Tensor, optional): ``(b,)`` labels (CAM).

    Returns:
        Tensor: ``(b, r)`` non-negative, rows summing to 1. No gradient.
    """
    if attention not in ATTENTIONS:
        raise ValueError(f'attention must be one of {ATTENTIONS}, got '
                         f'{attention!r}')
    if act not in ATTENTION_ACTS:
        raise ValueError(f'attention_act must be one of {ATTENTION_ACTS}, '
                         f'got {act!r}')
    feats = feats.detach()
    b, _, r = feats.shape
    if attention == 'none':
        return feats.new_full((b, r), 1.0 / r)
    if attention == 'gap':
        u = feats.mean(-1)
    else:
        if cam_weight is None or labels is None:
            raise ValueError("attention='cam' needs the classifier weights "
                             'and the labels')
        u = cam_weight.detach()[labels]
    sim = torch.einsum('bdr,bd->br', feats, u.to(feats.dtype))
    if act == 'softmax':
        return sim.softmax(-1)
    a = sim.relu()
    total = a.sum(-1, keepdim=True)
    uniform = torch.full_like(a, 1.0 / r)
    return torch.where(total > 0, a / total.clamp_min(
        torch.finfo(a.dtype).tiny), uniform)


def dense_multimix_loss(logits: torch.Tensor, scores: torch.Tensor,
                        attn: torch.Tensor, lam: torch.Tensor,
                        dense_loss_only: bool = False) -> torch.Tensor:
    """Dense MultiMix loss (5.10-5.14), averaged over positions.

    ``M^j = diag(a^j) Lambda^j``, ``s^j = 1^T M^j``, ``M^j / s^j`` mixes
    the per-position logits and the targets; the cross-entropy of each
    generated example at position ``j`` is weighted by ``s^j``. Only logits
    are mixed (exact for a linear classifier applied as a 1x1 conv), so no
    ``(n, d, r)`` tensor is formed.

    Args:
        logits (Tensor): ``(b, c, r)`` per-position logits of the batch.
        scores (Tensor): ``(b, c)`` targets.
        attn (Tensor): ``(b, r)`` attention (ignored with
            ``dense_loss_only``).
        lam (Tensor): ``(r, b, n)`` per-position interpolation matrices, or
            ``(b, n)`` shared by all positions.
        dense_loss_only (bool): the "MultiMix*" ablation: one ``lam``
            (``(b, n)``) for all positions, no attention, unweighted loss.

    Returns:
        Tensor: scalar loss.
    """
    b, c, r = logits.shape
    if dense_loss_only:
        if lam.dim() != 2:
            raise ValueError('dense_loss_only takes one (b, n) lam')
        mixed = torch.einsum('bcr,bn->rnc', logits, lam.to(logits.dtype))
        target = (lam.t().to(scores.dtype) @ scores)[None]
        ce = -(target * mixed.log_softmax(-1)).sum(-1)  # (r, n)
        return ce.mean()
    if lam.shape[:2] != (r, b):
        raise ValueError(f'lam must be (r={r}, b={b}, n), got '
                         f'{tuple(lam.shape)}')
    weights = attn.t()[:, :, None].to(lam.dtype) * lam  # (r, b, n)
    s = weights.sum(1)  # (r, n)
    weights = weights / s[:, None].clamp_min(torch.finfo(s.dtype).tiny)
    weights = weights.to(logits.dtype)
    mixed = torch.einsum('bcr,rbn->rnc', logits, weights)
    target = torch.einsum('bc,rbn->rnc', scores.to(logits.dtype), weights)
    ce = -(target * mixed.log_softmax(-1)).sum(-1)  # (r, n)
    s = s.to(ce.dtype)
    per_position = (s * ce).sum(1) / s.sum(1).clamp_min(
        torch.finfo(s.dtype).tiny)
    return per_position.mean()
