"""Losses of "On Assimilating Learned Views in Contrastive Learning" (A2).

Pure functions of embeddings ``z`` of shape ``(N, d)``: one row per image,
row ``i`` of every view belongs to image ``i``. Every function
L2-normalises its inputs first (so any positive rescaling of a row leaves
the result unchanged) and computes in at least float32 with autocast
disabled (float64 inputs stay float64). All losses are mean-reduced, the
normalised form of the spec (``assimilating_views.md`` §2, §5.2): the
paper's sums divided by the number of anchors.

Generated views ``zg`` are given as one ``(N, d)`` tensor (one generated
view per image), a ``(k, N, d)`` tensor or a sequence of ``k`` ``(N, d)``
tensors; ``k = 0`` (``None``, an empty sequence or a ``(0, N, d)`` tensor)
is allowed.

* :func:`cross_view_infonce`: Eq. 12, the cross-view InfoNCE ``L_CL`` of A2.
* :func:`nt_xent`: Eq. 1, SimCLR's NT-Xent over the ``2N`` expert rows.
* :func:`alignment_term`: ``L_align`` of Eq. 4 in mean form (subtract it).
* :func:`a2_full_loss`: Eq. 13, SupCon-style multi-positive loss over all
  ``(2 + k) N`` rows (generated views are anchors and negatives here).
* :func:`a2_simclr_logit_form`: Eq. 15, the alignment folded into the
  positive logit of NT-Xent; equal to ``nt_xent - alignment_term``.
"""
import contextlib
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F

ALIGN_ANCHORS = ('all', 'first')

Generated = Optional[Union[torch.Tensor, Sequence[torch.Tensor]]]


def _no_autocast(device: torch.device):
    if device.type in ('cpu', 'cuda'):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def _check_tau(tau: float) -> float:
    tau = float(tau)
    if not tau > 0:
        raise ValueError(f'tau (temperature) must be > 0, got {tau}')
    return tau


def _dtype(*tensors) -> torch.dtype:
    dtype = torch.float32
    for t in tensors:
        if t is not None and t.is_floating_point():
            dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _normalise(z: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return F.normalize(z.to(dtype), dim=-1)


def _check_pair(z1: torch.Tensor, z2: Optional[torch.Tensor]):
    if not isinstance(z1, torch.Tensor) or z1.dim() != 2:
        raise ValueError('z1 must be a (N, d) tensor, got shape '
                         f'{tuple(getattr(z1, "shape", ()))}')
    if z1.shape[0] < 1:
        raise ValueError('z1 must have N >= 1 rows, got shape '
                         f'{tuple(z1.shape)}')
    if z2 is not None and (not isinstance(z2, torch.Tensor)
                           or tuple(z2.shape) != tuple(z1.shape)):
        raise ValueError(
            f'z2 must have the shape of z1 {tuple(z1.shape)} (N, d), got '
            f'{tuple(getattr(z2, "shape", ()))}')


def _stack_generated(zg: Generated, n: int, d: int) -> torch.Tensor:
    """``(k, N, d)`` (possibly ``k = 0``) or None for no generated view."""
    if zg is None:
        return None
    if isinstance(zg, torch.Tensor):
        if zg.dim() == 2:
            zg = zg[None]
        elif zg.dim() != 3:
            raise ValueError(
                f'zg must be (N, d) = ({n}, {d}), (k, N, d) = (k, {n}, {d}) '
                f'or a list of k ({n}, {d}) tensors, got shape '
                f'{tuple(zg.shape)}')
    else:
        zg = list(zg)
        for j, t in enumerate(zg):
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != (n, d):
                raise ValueError(
                    f'zg[{j}] must be a ({n}, {d}) tensor (N, d of z1), got '
                    f'{tuple(getattr(t, "shape", ()))}')
        if not zg:
            return None
        zg = torch.stack(zg)
    if tuple(zg.shape[1:]) != (n, d):
        raise ValueError(
            f'zg must be (k, N, d) = (k, {n}, {d}) (N, d of z1), got shape '
            f'{tuple(zg.shape)}')
    return zg if zg.shape[0] else None


def cross_view_infonce(z1: torch.Tensor, z2: torch.Tensor,
                       tau: float) -> torch.Tensor:
    """Cross-view InfoNCE (Eq. 12), mean-reduced.

    ``CE(z1 z2^T / tau, diag) / 2 + CE(z2 z1^T / tau, diag) / 2``: each
    anchor is contrasted with the ``N`` rows of the *other* view only (its
    positive included).

    Args:
        z1 (Tensor): ``(N, d)`` embeddings of expert view 1.
        z2 (Tensor): ``(N, d)`` embeddings of expert view 2.
        tau (float): temperature, > 0.

    Returns:
        Tensor: scalar loss.
    """
    _check_pair(z1, z2)
    tau = _check_tau(tau)
    dtype = _dtype(z1, z2)
    with _no_autocast(z1.device):
        a, b = _normalise(z1, dtype), _normalise(z2, dtype)
        logits = a @ b.t() / tau
        target = torch.arange(a.shape[0], device=a.device)
        return (F.cross_entropy(logits, target)
                + F.cross_entropy(logits.t(), target)) / 2


def _multi_positive(views: torch.Tensor, tau: float) -> torch.Tensor:
    """SupCon multi-positive loss over ``(V, N, d)`` normalised views.

    All ``V N`` rows are anchors and contrast rows; ``A(i)`` is every row
    but ``i``; the positives are the other ``V - 1`` views of the same
    image. Mean over the anchors of the mean ``-log p`` of the positives.
    """
    v, n, d = views.shape
    z = views.reshape(v * n, d)
    logits = z @ z.t() / tau
    eye = torch.eye(v * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, float('-inf'))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    image = torch.arange(n, device=z.device).repeat(v)
    positive = (image[:, None] == image[None, :]) & ~eye
    pos_log_prob = log_prob.masked_fill(~positive, 0.).sum(1) / (v - 1)
    return -pos_log_prob.mean()


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR's NT-Xent (Eq. 1), mean over the ``2N`` anchors.

    Each anchor's softmax runs over the other ``2N - 1`` rows of both views;
    the positive is the other view of the same image. Equal to mmpretrain's
    ``SimCLR`` with a ``ContrastiveHead`` of the same temperature.

    Args:
        z1 (Tensor): ``(N, d)`` embeddings of expert view 1.
        z2 (Tensor): ``(N, d)`` embeddings of expert view 2.
        tau (float): temperature, > 0.

    Returns:
        Tensor: scalar loss.
    """
    _check_pair(z1, z2)
    tau = _check_tau(tau)
    dtype = _dtype(z1, z2)
    with _no_autocast(z1.device):
        views = torch.stack([_normalise(z1, dtype), _normalise(z2, dtype)])
        return _multi_positive(views, tau)


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not alpha >= 0:
        raise ValueError(f'alpha must be >= 0, got {alpha}')
    return alpha


def alignment_term(z1: torch.Tensor,
                   z2: Optional[torch.Tensor],
                   zg: Generated,
                   alpha: float,
                   tau: float,
                   anchors: str = 'all') -> torch.Tensor:
    """``L_align`` of A2 (Eq. 4) in mean form: the term to *subtract*.

    ``alpha / tau * mean_i (1/k) sum_p z_i . z_p`` over the anchors ``i``
    (rows of ``z1`` and ``z2`` for ``anchors='all'``, i.e.
    ``alpha / tau * (mean(z1 . zg) + mean(z2 . zg)) / 2``; rows of ``z1``
    only for ``'first'``, the CIFAR10 reference code) and the ``k``
    generated views ``p`` of the same image. It lies in
    ``[-alpha / tau, alpha / tau]``; with no generated view it is 0.

    Args:
        z1 (Tensor): ``(N, d)`` embeddings of expert view 1.
        z2 (Tensor | None): ``(N, d)`` embeddings of expert view 2 (may be
            None with ``anchors='first'``).
        zg (Tensor | Sequence[Tensor] | None): generated views, ``(N, d)``,
            ``(k, N, d)`` or ``k`` tensors ``(N, d)``.
        alpha (float): weight, >= 0.
        tau (float): temperature, > 0.
        anchors (str): ``'all'`` (both expert views, Eq. 4) or ``'first'``.

    Returns:
        Tensor: scalar (positive when the views are aligned).
    """
    if anchors not in ALIGN_ANCHORS:
        raise ValueError(f'anchors must be one of {ALIGN_ANCHORS}, got '
                         f'{anchors!r}')
    if z2 is None and anchors == 'all':
        raise ValueError("z2 is required with anchors='all'")
    _check_pair(z1, z2)
    alpha, tau = _check_alpha(alpha), _check_tau(tau)
    n, d = z1.shape
    gen = _stack_generated(zg, n, d)
    dtype = _dtype(z1, z2, gen)
    if gen is None:
        return z1.new_zeros((), dtype=dtype)
    with _no_autocast(z1.device):
        g_mean = _normalise(gen, dtype).mean(0)  # (1/k) sum_p z_p
        sim = (_normalise(z1, dtype) * g_mean).sum(1).mean()
        if anchors == 'all':
            sim2 = (_normalise(z2, dtype) * g_mean).sum(1).mean()
            sim = (sim + sim2) / 2
        return alpha / tau * sim


def a2_full_loss(z1: torch.Tensor, z2: torch.Tensor, zg: Generated,
                 tau: float) -> torch.Tensor:
    """A2-full (Eq. 13, SupCon sign), mean over all ``(2 + k) N`` anchors.

    Every expert and generated row is an anchor and a contrast row; the
    positives of a row are the other ``1 + k`` views of the same image.
    With no generated view this is :func:`nt_xent`.

    Args:
        z1 (Tensor): ``(N, d)`` embeddings of expert view 1.
        z2 (Tensor): ``(N, d)`` embeddings of expert view 2.
        zg (Tensor | Sequence[Tensor] | None): generated views, ``(N, d)``,
            ``(k, N, d)`` or ``k`` tensors ``(N, d)``.
        tau (float): temperature, > 0.

    Returns:
        Tensor: scalar loss.
    """
    _check_pair(z1, z2)
    tau = _check_tau(tau)
    n, d = z1.shape
    gen = _stack_generated(zg, n, d)
    dtype = _dtype(z1, z2, gen)
    with _no_autocast(z1.device):
        parts = [_normalise(z1, dtype)[None], _normalise(z2, dtype)[None]]
        if gen is not None:
            parts.append(_normalise(gen, dtype))
        return _multi_positive(torch.cat(parts), tau)


def a2_simclr_logit_form(z1: torch.Tensor, z2: torch.Tensor, zg: Generated,
                         alpha: float, tau: float) -> torch.Tensor:
    """A2-SimCLR in the logit form of Eq. 15, mean over the ``2N`` anchors.

    ``-mean_i log(exp(z_i.z_j(i)/tau + alpha/k sum_p z_i.z_p/tau) /
    sum_{a in A(i)} exp(z_i.z_a/tau))`` with ``A(i)`` the other ``2N - 1``
    expert rows (generated rows are not negatives). Algebraically equal to
    ``nt_xent(z1, z2, tau) - alignment_term(z1, z2, zg, alpha, tau)``
    (Eq. 14); computed independently, for tests.

    Args:
        z1, z2 (Tensor): ``(N, d)`` expert embeddings.
        zg (Tensor | Sequence[Tensor] | None): generated views.
        alpha (float): weight, >= 0.
        tau (float): temperature, > 0.

    Returns:
        Tensor: scalar loss.
    """
    _check_pair(z1, z2)
    alpha, tau = _check_alpha(alpha), _check_tau(tau)
    n, d = z1.shape
    gen = _stack_generated(zg, n, d)
    dtype = _dtype(z1, z2, gen)
    with _no_autocast(z1.device):
        z = torch.cat([_normalise(z1, dtype), _normalise(z2, dtype)])
        logits = z @ z.t() / tau
        eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
        lse = torch.logsumexp(logits.masked_fill(eye, float('-inf')), dim=1)
        partner = torch.arange(2 * n, device=z.device).roll(n)
        numerator = logits[torch.arange(2 * n, device=z.device), partner]
        if gen is not None:
            g_mean = _normalise(gen, dtype).mean(0).repeat(2, 1)
            numerator = numerator + alpha * (z * g_mean).sum(1) / tau
        return (lse - numerator).mean()
