"""Batched entropic optimal transport (log-domain Sinkhorn) for feature maps.

The one Sinkhorn of the package (AlignMixup's feature alignment; DoRA's
Sinkhorn-Knopp refinement should reuse it). Pure tensor code: any device,
no autograd graph, no host synchronisation inside the iteration loop.
"""
import math
from typing import Dict, Optional, Tuple

import torch

STOP_RULES = ('official', 'none', 'marginal')


def pairwise_sqeuclidean(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``|x_i - y_j|^2`` of row vectors.

    Args:
        x (Tensor): ``(b, r, c)`` (or ``(r, c)``).
        y (Tensor): ``(b, s, c)`` (or ``(s, c)``).

    Returns:
        Tensor: ``(b, r, s)`` costs, clamped at 0; computed with one batched
        matrix product, never a ``(b, r, s, c)`` broadcast.
    """
    x2 = x.pow(2).sum(-1).unsqueeze(-1)
    y2 = y.pow(2).sum(-1).unsqueeze(-2)
    return (x2 + y2 - 2 * x @ y.transpose(-1, -2)).clamp_min_(0)


def _log_marginal(m: Optional[torch.Tensor], n: int, shape, dtype, device):
    if m is None:
        return torch.full(shape + (n, ), -math.log(n), dtype=dtype,
                          device=device)
    m = m.to(device=device, dtype=dtype)
    if (m < 0).any():
        raise ValueError('marginals must be non-negative')
    return m.expand(shape + (n, )).log()


def _logsumexp0_(x: torch.Tensor) -> torch.Tensor:
    """``logsumexp`` over dim 0, overwriting ``x``.

    Terms more than 80 below the maximum are raised to ``exp(-80)`` so that
    no float32 denormal is produced (a large slowdown on CPUs); they change
    the sum by less than ``x.shape[0] * 2e-35`` relative.
    """
    m = x.amax(0)
    return x.sub_(m).clamp_min_(-80.).exp_().sum(0).log_().add_(m)


@torch.no_grad()
def sinkhorn_log(cost: torch.Tensor,
                 eps: float = 0.1,
                 max_iter: int = 100,
                 stop_thr: float = 0.1,
                 stop_rule: str = 'official',
                 one_sided: Optional[str] = None,
                 a: Optional[torch.Tensor] = None,
                 b: Optional[torch.Tensor] = None,
                 sync_every: Optional[int] = None
                 ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Entropic OT plans ``argmin <P, C> - eps H(P)`` for a batch of costs.

    Log-domain updates of the dual potentials ``u, v`` (stable for raw
    feature costs: ``exp(-C / eps)`` would underflow in float32 for costs
    above about 9 at ``eps=0.1``)::

        u <- u + eps * (log a - logsumexp((u + v - C) / eps, cols))
        v <- v + eps * (log b - logsumexp((u + v - C) / eps, rows))
        P  = exp((u + v - C) / eps)

    Stop rules:

    * ``'official'`` (AlignMixup's code): stop every pair once the batch mean
      of ``sum_i |u - u_prev|`` is below ``stop_thr`` (in cost units), at
      most ``max_iter`` iterations;
    * ``'none'``: exactly ``max_iter`` iterations;
    * ``'marginal'``: each pair stops once its largest relative row-marginal
      error ``max_i |P 1 - a|_i / a_i`` is below ``stop_thr`` (run to
      convergence with a small ``stop_thr`` and a large ``max_iter``).

    Stopped pairs are frozen with masks, so the loop never reads a value
    back to the host; ``sync_every=k`` checks every ``k`` iterations whether
    all pairs have stopped and leaves the loop early (one sync per check).

    Args:
        cost (Tensor): ``(b, r, s)`` or ``(r, s)`` costs.
        eps (float): entropic regularisation, > 0.
        max_iter (int): most iterations, >= 0 (0: no update, only with
            ``one_sided``).
        stop_thr (float): threshold of the stop rule, > 0.
        stop_rule (str): ``'official'``, ``'none'`` or ``'marginal'``.
        one_sided (str, optional): ``'rows'`` or ``'cols'``: no iteration,
            ``P`` is ``softmax(-C / eps)`` along that axis scaled by the
            marginal, so only that marginal holds (AlignMixup's "i = 0").
        a (Tensor, optional): row marginals ``(r,)`` or ``(b, r)``, summing
            to 1; uniform by default. ``b``: column marginals likewise.
        sync_every (int, optional): see above. Defaults to None (never).

    Returns:
        tuple: ``P`` (same shape as ``cost``, float32 or float64, on
        ``cost.device``, no grad) and diagnostics: ``n_iter`` (b,) iterations
        run per pair, ``row_err`` and ``col_err`` (b,) largest relative
        marginal errors (``|r * P 1 - 1|`` for uniform marginals).
    """
    if not eps > 0:
        raise ValueError(f'eps must be > 0, got {eps}')
    if not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f'max_iter must be an integer >= 0, got {max_iter}')
    if stop_rule not in STOP_RULES:
        raise ValueError(f'stop_rule must be one of {STOP_RULES}, got '
                         f'{stop_rule!r}')
    if not stop_thr > 0:
        raise ValueError(f'stop_thr must be > 0, got {stop_thr}')
    if one_sided not in (None, 'rows', 'cols'):
        raise ValueError("one_sided must be None, 'rows' or 'cols', got "
                         f'{one_sided!r}')
    if cost.dim() not in (2, 3):
        raise ValueError(f'cost must be (r, s) or (b, r, s), got '
                         f'{tuple(cost.shape)}')
    squeeze = cost.dim() == 2
    c = cost.detach()
    c = c[None] if squeeze else c
    dtype = torch.float64 if c.dtype == torch.float64 else torch.float32
    c = c.to(dtype)
    nb, r, s = c.shape
    log_a = _log_marginal(a, r, (nb, ), dtype, c.device)
    log_b = _log_marginal(b, s, (nb, ), dtype, c.device)
    n_iter = torch.zeros(nb, dtype=torch.long, device=c.device)

    if one_sided is not None:
        dim = -1 if one_sided == 'rows' else -2
        log_m = log_a[:, :, None] if one_sided == 'rows' else log_b[:, None]
        log_p = torch.log_softmax(-c / eps, dim=dim) + log_m
    else:
        if max_iter == 0:
            raise ValueError('max_iter=0 needs one_sided')
        log_k = c / -eps
        # Potentials are kept in units of 1/eps (f = u / eps, g = v / eps).
        # Each update reduces over the first dimension of a copy of -C/eps
        # laid out with the reduced index outermost: reductions over a
        # short innermost axis (r = 16..64) are several times slower.
        k_rows = log_k.permute(2, 0, 1).contiguous()  # (s, b, r)
        k_cols = log_k.permute(1, 0, 2).contiguous()  # (r, b, s)
        buf_rows, buf_cols = torch.empty_like(k_rows), torch.empty_like(
            k_cols)
        f = torch.zeros(nb, r, dtype=dtype, device=c.device)
        g = torch.zeros(nb, s, dtype=dtype, device=c.device)
        done = torch.zeros(nb, dtype=torch.bool, device=c.device)
        for it in range(max_iter):
            torch.add(k_rows, g.t()[:, :, None], out=buf_rows)
            f_new = log_a - _logsumexp0_(buf_rows)
            if stop_rule == 'marginal' and it > 0:
                # f - f_new is the log row-sum error of the current plan
                err = (f - f_new).exp_().sub_(1).abs_().amax(1)
                done = done | (err < stop_thr)
            torch.add(k_cols, f_new.t()[:, :, None], out=buf_cols)
            g_new = log_b - _logsumexp0_(buf_cols)
            if stop_rule == 'none':
                f, g = f_new, g_new
                continue
            n_iter += (~done).long()
            step = (f_new - f).abs_().sum(1)
            f = torch.where(done[:, None], f, f_new)
            g = torch.where(done[:, None], g, g_new)
            if stop_rule == 'official':
                # batch-global, in cost units: mean_b sum_i |u - u_prev|
                done = done | (step.mean() < stop_thr / eps)
            if sync_every and (it + 1) % sync_every == 0 and bool(done.all()):
                break
        if stop_rule == 'none':
            n_iter.fill_(max_iter)
        log_p = log_k + f[:, :, None] + g[:, None, :]

    plan = log_p.exp()
    row_err = (plan.sum(2) / log_a.exp() - 1).abs().amax(1)
    col_err = (plan.sum(1) / log_b.exp() - 1).abs().amax(1)
    info = dict(n_iter=n_iter, row_err=row_err, col_err=col_err)
    if squeeze:
        plan = plan[0]
        info = {k: t[0] for k, t in info.items()}
    return plan, info
