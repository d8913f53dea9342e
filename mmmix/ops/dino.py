"""Self-distillation maths of DINO and DoRA (pure tensor code).

* :func:`teacher_temperature`: DINO's per-epoch teacher temperature (a
  linear warm-up, then constant);
* :func:`distillation_cross_entropy`: every weighted (teacher view, student
  view) cross-entropy ``H(P_t(z^T_u), P_s(z^S_v))`` from one product;
* :func:`multicrop_pair_weights` (DINO) and :func:`dora_pair_weights` (DoRA's
  multi-object + local-crop loss in its three normalisations);
* :func:`clip_grad_per_param_`: DINO's gradient clipping, each tensor on its
  own (not the global norm).
"""
from typing import Iterable, Sequence

import torch

DORA_LOSS_MODES = ('clean', 'thesis_sum', 'legacy_code')


def teacher_temperature(epoch: int, teacher_temp: float = 0.04,
                        warmup_teacher_temp: float = 0.04,
                        warmup_epochs: int = 0) -> float:
    """DINO's teacher temperature at ``epoch`` (0-based).

    ``linspace(warmup_teacher_temp, teacher_temp, warmup_epochs)[epoch]``
    during the warm-up, ``teacher_temp`` afterwards (DINO's schedule; with
    one warm-up epoch only the start value is used in it).
    """
    if warmup_epochs < 0:
        raise ValueError(f'warmup_epochs must be >= 0, got {warmup_epochs}')
    if epoch >= warmup_epochs:
        return float(teacher_temp)
    if warmup_epochs == 1:
        return float(warmup_teacher_temp)
    frac = epoch / (warmup_epochs - 1)
    return float(warmup_teacher_temp +
                 (teacher_temp - warmup_teacher_temp) * frac)


def distillation_cross_entropy(teacher_probs: torch.Tensor,
                               student_logits: torch.Tensor,
                               weights: torch.Tensor,
                               student_temp: float = 0.1) -> torch.Tensor:
    """``sum_{u, v} w_uv mean_r H(q_u[r], softmax(z_v[r] / tau_s))``.

    All pairs come from one ``(Vt, R K) x (R K, Vs)`` product instead of a
    Python loop over pairs.

    Args:
        teacher_probs (Tensor): ``(Vt, R, K)`` teacher distributions (no
            grad needed; they are used as given).
        student_logits (Tensor): ``(Vs, R, K)`` raw student logits.
        weights (Tensor): ``(Vt, Vs)`` pair weights (0 skips a pair).
        student_temp (float): ``tau_s``.

    Returns:
        Tensor: the scalar loss (float32).
    """
    vt, r, k = teacher_probs.shape
    vs = student_logits.shape[0]
    if student_logits.shape[1:] != (r, k) or weights.shape != (vt, vs):
        raise ValueError(
            f'shape mismatch: teacher {tuple(teacher_probs.shape)}, student '
            f'{tuple(student_logits.shape)}, weights {tuple(weights.shape)}')
    log_p = torch.log_softmax(student_logits.float() / student_temp, dim=-1)
    # ce[u, v] = -(1/R) sum_r sum_j q[u, r, j] log p[v, r, j]
    ce = -(teacher_probs.float().reshape(vt, r * k) @
           log_p.reshape(vs, r * k).t()) / r
    return (ce * weights.to(ce)).sum()


def multicrop_pair_weights(num_teacher: int, num_student: int,
                           device=None) -> torch.Tensor:
    """DINO's pairs: teacher view ``u`` with every student view ``v != u``.

    Student views ``0 .. num_teacher - 1`` are the same crops as the teacher
    views. Returns ``(num_teacher, num_student)`` weights ``1 / |P|``.
    """
    if num_teacher < 1 or num_student < num_teacher:
        raise ValueError('need 1 <= num_teacher <= num_student, got '
                         f'{num_teacher} and {num_student}')
    w = torch.ones(num_teacher, num_student, device=device)
    w[torch.arange(num_teacher), torch.arange(num_teacher)] = 0
    if w.sum() == 0:
        raise ValueError('no (teacher, student) pair with different views: '
                         'give more student views than teacher views')
    return w / w.sum()


def dora_pair_weights(num_global: int, num_objects: int, num_local: int,
                      mode: str = 'clean', num_frames: int = 1,
                      device=None) -> torch.Tensor:
    """Weights of DoRA's loss over ``(teacher view, student view)`` pairs.

    Student views are ordered ``[masked view (v, i) for v in globals for i in
    objects] + [local crops]``; frames are rows of every view, so the mean
    over rows is the mean over frames and samples (Eq. 6.10). Modes:

    * ``'clean'`` (default): ``1/2 (mean over O + mean over Lc)`` with
      ``O = {(u, v, i): u != v}`` (two views) or ``{(g, g, i)}`` (one view)
      and ``Lc = V x locals``;
    * ``'thesis_sum'``: Eq. 6.8 + 6.9 as written, a sum over the pairs;
    * ``'legacy_code'``: the released code's weighting for one global view:
      object ``j`` re-adds ``1 / T`` of the previous object's term (the
      accumulator is not reset), the first local crop gets no weight and
      the others are averaged over ``m - 1``.

    Returns:
        Tensor: ``(num_global, num_global * num_objects + num_local)``.
    """
    if mode not in DORA_LOSS_MODES:
        raise ValueError(f'loss_mode must be one of {DORA_LOSS_MODES}, got '
                         f'{mode!r}')
    if num_global not in (1, 2):
        raise ValueError(f'num_global_views must be 1 or 2, got {num_global}')
    if num_objects < 1:
        raise ValueError(f'num_objects must be >= 1, got {num_objects}')
    if num_local < 0:
        raise ValueError(f'num_local must be >= 0, got {num_local}')
    g, k, m = num_global, num_objects, num_local
    obj = torch.zeros(g, g, k, dtype=torch.float64)  # (u, v, i)
    loc = torch.zeros(g, m, dtype=torch.float64)
    if g == 1:
        obj[0, 0] = 1.
    else:
        obj[0, 1] = obj[1, 0] = 1.
    if m > 0:
        loc[:] = 1.
    if mode == 'clean':
        obj = obj / obj.sum()
        if m > 0:
            obj, loc = obj / 2, loc / (2 * loc.sum())
    elif mode == 'legacy_code':
        if g != 1 or m < 2:
            raise ValueError("loss_mode='legacy_code' is the released code's "
                             'one-view loss: it needs num_global_views=1 and '
                             f'at least 2 local crops, got {g} and {m}')
        t = float(num_frames)
        # F_j = F_{j-1} / T + G_j, total = mean_j F_j  =>  G_i weighted by
        # c_i / k with c_i = sum_{r=0}^{k-1-i} T^-r
        c = torch.tensor([sum(t**-r for r in range(k - i))
                          for i in range(k)], dtype=torch.float64)
        obj[0, 0] = c / (2 * k)
        loc[0, 0] = 0.
        loc[0, 1:] = c.sum() / (2 * k * (m - 1))
    w = torch.cat([obj.reshape(g, g * k), loc], dim=1)
    return w.to(device=device, dtype=torch.float32)


@torch.no_grad()
def clip_grad_per_param_(params: Iterable[torch.nn.Parameter],
                         max_norm: float) -> None:
    """Scale each gradient to an L2 norm of at most ``max_norm``.

    DINO's rule ``g <- g * min(1, max_norm / (|g| + 1e-6))`` applied to every
    tensor on its own, with foreach kernels and no host synchronisation.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    by_device = {}
    for g in grads:
        by_device.setdefault(g.device, []).append(g)
    for group in by_device.values():
        norms = torch.stack(torch._foreach_norm(group)).float()
        coefs = (max_norm / (norms + 1e-6)).clamp_(max=1.)
        torch._foreach_mul_(group, list(coefs.unbind()))


def split_views(views: Sequence[torch.Tensor]):
    """Group consecutive views of equal spatial size (one forward each)."""
    groups, start = [], 0
    for i in range(1, len(views) + 1):
        if i == len(views) or views[i].shape[-2:] != views[start].shape[-2:]:
            groups.append((start, i))
            start = i
    return groups
