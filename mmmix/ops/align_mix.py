"""AlignMixup's optimal-transport feature alignment and aligned mixing.

For feature maps ``A, A'`` of shape ``(c, h, w)`` seen as ``c x r`` matrices
(``r = h w`` positions), the cost ``M_ij = |a_i - a'_j|^2`` between the
positions of ``A`` (rows) and ``A'`` (columns) gives an entropic transport
plan ``P`` and the assignment ``R = r P`` (thesis eqs. 3.7-3.10). Then

* ``A' R^T`` (3.10) is ``A'`` expressed at the positions of ``A``: column
  ``i`` is ``sum_j R_ij a'_j`` (a convex combination when row ``i`` of ``R``
  sums to one);
* ``A R`` (3.11) is ``A`` expressed at the positions of ``A'``: column ``j``
  is ``sum_i R_ij a_i`` (columns of ``R`` always sum to one here, because the
  solver's last update is the column one).

The plan carries no gradient; gradients reach ``A`` and ``A'`` through the
products.
"""
from typing import Dict, Optional, Tuple

import torch

from .sinkhorn import pairwise_sqeuclidean, sinkhorn_log

COST_NORMS = (None, 'max', 'mean')


def alignment_plan(a: torch.Tensor,
                   b: torch.Tensor,
                   eps: float = 0.1,
                   max_iter: int = 100,
                   stop_thr: float = 0.1,
                   stop_rule: str = 'official',
                   cost_norm: Optional[str] = None,
                   row_renorm: bool = False,
                   sync_every: Optional[int] = None
                   ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Assignment matrices ``R = r P*`` between the positions of two maps.

    Args:
        a (Tensor): ``(n, c, h, w)`` feature maps (rows of ``R``).
        b (Tensor): ``(n, c, h, w)`` feature maps (columns of ``R``).
        eps, max_iter, stop_thr, stop_rule, sync_every: passed to
            :func:`~mmmix.ops.sinkhorn_log`.
        cost_norm (str, optional): ``None`` (raw squared distances, the
            thesis and official code), ``'max'`` or ``'mean'``: divide each
            pair's cost by its maximum or mean first, which makes ``eps``
            independent of the feature scale.
        row_renorm (bool): rescale the rows of ``R`` to sum to one (they
            do only at convergence). Defaults to False (official code).

    Returns:
        tuple: ``R`` ``(n, r, r)`` float32 (float64 for float64 input), no
        grad, and the solver's diagnostics (``n_iter``, ``row_err``,
        ``col_err``, each ``(n,)``).
    """
    if a.dim() != 4 or a.shape != b.shape:
        raise ValueError('a and b must be (n, c, h, w) of one shape, got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')
    if cost_norm not in COST_NORMS:
        raise ValueError(f'cost_norm must be one of {COST_NORMS}, got '
                         f'{cost_norm!r}')
    with torch.no_grad():
        dtype = torch.float64 if a.dtype == torch.float64 else torch.float32
        # (n, r, c) views: positions as rows
        xa = a.detach().flatten(2).transpose(1, 2).to(dtype)
        xb = b.detach().flatten(2).transpose(1, 2).to(dtype)
        cost = pairwise_sqeuclidean(xa, xb)
        if cost_norm is not None:
            scale = (cost.amax((1, 2), keepdim=True) if cost_norm == 'max'
                     else cost.mean((1, 2), keepdim=True))
            cost = cost / scale.clamp_min(torch.finfo(dtype).tiny)
        plan, info = sinkhorn_log(cost, eps=eps, max_iter=max_iter,
                                  stop_thr=stop_thr, stop_rule=stop_rule,
                                  sync_every=sync_every)
        assign = plan.mul_(plan.shape[-1])
        if row_renorm:
            assign = assign / assign.sum(-1, keepdim=True).clamp_min(
                torch.finfo(dtype).tiny)
    return assign, info


def align_to(b: torch.Tensor, assign: torch.Tensor) -> torch.Tensor:
    """``B R^T`` (3.10): ``b`` moved to the positions indexing rows of ``R``.

    Args:
        b (Tensor): ``(n, c, h, w)``.
        assign (Tensor): ``(n, r, r)`` with ``r = h w``.
    """
    n, c, h, w = b.shape
    out = b.flatten(2) @ assign.to(b.dtype).transpose(1, 2)
    return out.view(n, c, h, w)


def align_from(a: torch.Tensor, assign: torch.Tensor) -> torch.Tensor:
    """``A R`` (3.11): ``a`` moved to the positions indexing columns of R.

    Args:
        a (Tensor): ``(n, c, h, w)``.
        assign (Tensor): ``(n, r, r)`` with ``r = h w``.
    """
    n, c, h, w = a.shape
    return (a.flatten(2) @ assign.to(a.dtype)).view(n, c, h, w)
