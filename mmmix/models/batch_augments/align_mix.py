"""AlignMix: mixup of feature maps aligned by optimal transport."""
from typing import Optional, Tuple

import numpy as np
import torch

from mmmix.ops.align_mix import (
    COST_NORMS,
    align_from,
    align_to,
    alignment_plan,
)
from mmmix.ops.sinkhorn import STOP_RULES
from mmmix.registry import BATCH_AUGMENTS

DIRECTIONS = ('random', 'a_to_b', 'b_to_a')
FORMULATIONS = ('official', 'thesis')


@BATCH_AUGMENTS.register_module()
class AlignMix:
    r"""AlignMixup's aligned feature mixing (thesis ch. 3, eqs. 3.10-3.13).

    Same call contract as mmpretrain's ``Mixup``:
    ``mixed, mixed_scores = AlignMix(...)(feats, scores)`` with ``feats``
    ``(N, C, H, W)`` and one-hot (or soft) ``scores`` ``(N, K)``. Per call
    it draws ``lam ~ Beta(alpha, alpha)`` and a permutation ``pi``, aligns
    each map ``A = feats[i]`` with its partner ``A' = feats[pi[i]]`` by
    entropic OT (see :mod:`mmmix.ops.align_mix`) and mixes:

    * ``'a_to_b'`` (3.12): ``lam A + (1 - lam) A' R^T``, scores
      ``lam y + (1 - lam) y'`` (pose of ``x``, texture of ``x'`` at
      ``lam = 0``);
    * ``'b_to_a'``, official code: ``lam A R + (1 - lam) A'``, scores
      ``lam y + (1 - lam) y'``;
    * ``'b_to_a'``, thesis (3.13 after the swap of Alg. 1):
      ``lam A' + (1 - lam) A R``, scores ``lam y' + (1 - lam) y``.

    The two formulations are equal in distribution (Beta(alpha, alpha) is
    symmetric); ``'random'`` picks the direction 50/50 per call.
    The transport plan is detached (no gradient through Sinkhorn).

    Designed for deep feature maps (``r = H W`` of 16-196 positions). With
    the default ``max_positions`` it refuses pixel-level inputs, which the
    method does not use.

    After each call ``last_info`` holds tensors (no host sync) for
    logging: ``lam``, ``row_err`` (largest row-marginal error of ``R`` over
    the batch), ``n_iter`` (mean Sinkhorn iterations) and ``direction``
    (0: a_to_b, 1: b_to_a).

    Args:
        alpha (float): Beta parameter, > 0. Defaults to 2.0.
        eps (float): entropic regularisation, > 0. Defaults to 0.1.
        max_iter (int): most Sinkhorn iterations. Defaults to 100.
        stop_thr (float): stop threshold. Defaults to 0.1.
        stop_rule (str): ``'official'`` (batch-mean change of the row
            potential < ``stop_thr``), ``'none'`` or ``'marginal'``.
        direction (str): ``'random'``, ``'a_to_b'`` or ``'b_to_a'``.
        formulation (str): ``'official'`` or ``'thesis'`` (see above).
        lam (float, optional): fixed ``lam`` in [0, 1] instead of sampling.
        lam_per_sample (bool): one ``lam`` per example (Alg. 1 draws it in
            the per-example loop) instead of one per batch.
        row_renorm (bool): renormalise the rows of ``R`` (off in the
            official code, whose early-stopped rows do not sum to one).
        cost_norm (str, optional): ``None``, ``'max'`` or ``'mean'``.
        max_positions (int): largest accepted ``H W``. Defaults to 1024.
    """

    def __init__(self,
                 alpha: float = 2.0,
                 eps: float = 0.1,
                 max_iter: int = 100,
                 stop_thr: float = 0.1,
                 stop_rule: str = 'official',
                 direction: str = 'random',
                 formulation: str = 'official',
                 lam: Optional[float] = None,
                 lam_per_sample: bool = False,
                 row_renorm: bool = False,
                 cost_norm: Optional[str] = None,
                 max_positions: int = 1024):
        if not alpha > 0:
            raise ValueError(f'AlignMix: alpha must be > 0, got {alpha}')
        if not eps > 0:
            raise ValueError(f'AlignMix: eps must be > 0, got {eps}')
        if not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(
                f'AlignMix: max_iter must be an integer >= 1, got {max_iter}')
        if not stop_thr > 0:
            raise ValueError(f'AlignMix: stop_thr must be > 0, got {stop_thr}')
        if stop_rule not in STOP_RULES:
            raise ValueError(f'AlignMix: stop_rule must be one of '
                             f'{STOP_RULES}, got {stop_rule!r}')
        if direction not in DIRECTIONS:
            raise ValueError(f'AlignMix: direction must be one of '
                             f'{DIRECTIONS}, got {direction!r}')
        if formulation not in FORMULATIONS:
            raise ValueError(f'AlignMix: formulation must be one of '
                             f'{FORMULATIONS}, got {formulation!r}')
        if lam is not None and not 0 <= lam <= 1:
            raise ValueError(f'AlignMix: lam must be in [0, 1], got {lam}')
        if cost_norm not in COST_NORMS:
            raise ValueError(f'AlignMix: cost_norm must be one of '
                             f'{COST_NORMS}, got {cost_norm!r}')
        if max_positions < 1:
            raise ValueError('AlignMix: max_positions must be >= 1, got '
                             f'{max_positions}')
        self.alpha = float(alpha)
        self.solver_cfg = dict(eps=eps, max_iter=max_iter, stop_thr=stop_thr,
                               stop_rule=stop_rule, cost_norm=cost_norm,
                               row_renorm=row_renorm)
        self.direction = direction
        self.formulation = formulation
        self.lam = lam
        self.lam_per_sample = lam_per_sample
        self.max_positions = max_positions
        self.last_info = {}

    def _sample_lam(self, n: int, ref: torch.Tensor) -> torch.Tensor:
        if self.lam is not None:
            lam = np.full(n if self.lam_per_sample else 1, self.lam)
        else:
            lam = np.random.beta(self.alpha, self.alpha,
                                 n if self.lam_per_sample else 1)
        return torch.as_tensor(lam, dtype=ref.dtype, device=ref.device)

    def __call__(self, feats: torch.Tensor, scores: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        if feats.dim() != 4:
            raise ValueError('AlignMix mixes (N, C, H, W) feature maps, got '
                             f'shape {tuple(feats.shape)}')
        n, _, h, w = feats.shape
        if h * w > self.max_positions:
            raise ValueError(
                f'AlignMix: {h}x{w} = {h * w} positions exceed max_positions'
                f'={self.max_positions}; AlignMixup aligns deep feature maps '
                '(16-196 positions), not images')
        if scores.dim() != 2 or scores.shape[0] != n:
            raise ValueError(f'AlignMix: scores must be (N={n}, K), got '
                             f'{tuple(scores.shape)}')
        scores = scores.to(feats.dtype) if feats.is_floating_point() \
            else scores.float()
        index = torch.randperm(n).to(feats.device)
        partner = feats[index]
        lam = self._sample_lam(n, feats)
        if self.direction == 'random':
            to_b = bool(np.random.rand() < 0.5)
        else:
            to_b = self.direction == 'b_to_a'
        assign, info = alignment_plan(feats, partner, **self.solver_cfg)
        lam_x, lam_y = lam.view(-1, 1, 1, 1), lam.view(-1, 1)
        if not to_b:
            mixed = lam_x * feats + (1 - lam_x) * align_to(partner, assign)
            mixed_scores = lam_y * scores + (1 - lam_y) * scores[index]
        elif self.formulation == 'official':
            mixed = lam_x * align_from(feats, assign) + (1 - lam_x) * partner
            mixed_scores = lam_y * scores + (1 - lam_y) * scores[index]
        else:
            mixed = lam_x * partner + (1 - lam_x) * align_from(feats, assign)
            mixed_scores = lam_y * scores[index] + (1 - lam_y) * scores
        self.last_info = dict(
            lam=lam.mean(), row_err=info['row_err'].amax(),
            n_iter=info['n_iter'].float().mean(),
            direction=torch.tensor(float(to_b), device=feats.device))
        self.last_index = index
        return mixed, mixed_scores

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(alpha={self.alpha}, '
                f'direction={self.direction!r}, '
                f'formulation={self.formulation!r}, {self.solver_cfg})')
