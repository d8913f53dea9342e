"""Metrix loss wrapper around a pytorch-metric-learning loss."""
import copy
import warnings
from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn
from pytorch_metric_learning import distances, losses, miners, reducers

from mmmix.ops.metrix import (
    PAIR_LOSSES,
    PAIR_MODES,
    gram_trick_applies,
    loss_kind,
    mix,
    mixed_unit_similarity_terms,
    mixing_terms,
    pair_terms_loss_dict,
    reduce_loss_dict,
    sample_lam,
    soft_label_loss,
    soft_labels,
    unit_similarity_to_distance,
)
from mmmix.registry import MODELS

_PML_PARTS = dict(distance=distances, reducer=reducers)


def build_pml(cfg, module, field: str):
    """A PML object from ``dict(type='ClassName', ...)`` (nested distance
    and reducer dicts are built too); instances pass through."""
    if cfg is None or not isinstance(cfg, dict):
        return cfg
    cfg = copy.deepcopy(cfg)
    name = cfg.pop('type', None)
    cls = getattr(module, str(name), None)
    if not isinstance(cls, type):
        where = module.__name__.split('.')[-1]
        raise ValueError(f'MetrixLoss: {field}.type={name!r} is not a class '
                         f'of pytorch_metric_learning.{where}')
    for key, part in _PML_PARTS.items():
        if isinstance(cfg.get(key), dict):
            cfg[key] = build_pml(cfg[key], part, f'{field}.{key}')
    return cls(**cfg)


@MODELS.register_module()
class MetrixLoss(nn.Module):
    """Clean loss + ``w`` x mixed loss (thesis eq. 4.10) for any supported
    pytorch-metric-learning loss.

    The clean term is the PML loss itself (with the miner's pairs if a
    miner is given). The mixed term evaluates the same loss, with the same
    distance, hyper-parameters and reducer, on mixed examples with soft
    pair labels (eq. 4.9): each step draws one pair mode from
    ``pair_modes``, ``lam ~ Beta(alpha, alpha)`` per batch or per mixed
    example, and builds every distinct mixed example once
    (:func:`mmmix.ops.metrix.mixing_pairs`); anchors are always clean.

    Where the mixed examples come from is the caller's choice (``mix_fn``):
    the model passes input or feature mixing; without it the embeddings are
    mixed. Embedding mixes of unit-norm embeddings under cosine or l2
    distance are scored from the batch's Gram matrix without forming them.

    Proxy losses: for ProxyAnchor the proxies are the anchors and each mixed
    example carries a two-hot label (``lam`` for ``c_i``, ``1 - lam`` for
    ``c_j``), seen by those two proxies or, with ``proxy_neg_neg``, by all
    proxies (the others as a pure negative); for ProxyNCA (ProxyNCA++ with
    ``softmax_scale=1/T``) the mixed example is the anchor, scored against
    all proxies with its two-hot label (spec A8/A9: an interpretation, the
    thesis gives no mechanics).

    Args:
        loss (dict): the PML loss, ``dict(type='MultiSimilarityLoss',
            alpha=18, beta=75, base=0.77)``; ``distance`` / ``reducer`` may
            be dicts of PML classes. Supported: see
            :data:`mmmix.ops.metrix.SUPPORTED_LOSSES`.
        miner (dict, optional): a PML miner for the clean term, e.g.
            ``dict(type='MultiSimilarityMiner', epsilon=0.39)``.
        mixing_weight (float): ``w`` >= 0. Defaults to 0.4.
        pair_modes (Sequence[str]): drawn uniformly per step; from
            ``'pos_neg'``, ``'anc_neg'``, ``'pos_pos'``, ``'neg_neg'``.
        alpha (float): Beta parameter, > 0. Defaults to 2.
        lam_mode (str): ``'batch'`` (one ``lam``, the official code) or
            ``'pair'``.
        proxy_neg_neg (bool): ProxyAnchor only, see above.
        only_anchors_without_pos (bool): anchor-negative mixes only for
            anchors with no positive in the batch (the official code).
    """

    def __init__(self, loss: dict, miner: Optional[dict] = None,
                 mixing_weight: float = 0.4,
                 pair_modes: Sequence[str] = ('pos_neg', 'anc_neg'),
                 alpha: float = 2.0, lam_mode: str = 'batch',
                 proxy_neg_neg: bool = False,
                 only_anchors_without_pos: bool = False):
        super().__init__()
        if not mixing_weight >= 0:
            raise ValueError('MetrixLoss: mixing_weight must be >= 0, got '
                             f'{mixing_weight}')
        if not alpha > 0:
            raise ValueError(f'MetrixLoss: alpha must be > 0, got {alpha}')
        if lam_mode not in ('batch', 'pair'):
            raise ValueError("MetrixLoss: lam_mode must be 'batch' or "
                             f"'pair', got {lam_mode!r}")
        pair_modes = tuple(pair_modes)
        bad = [m for m in pair_modes if m not in PAIR_MODES]
        if not pair_modes or bad:
            raise ValueError(f'MetrixLoss: pair_modes must be a non-empty '
                             f'subset of {PAIR_MODES}, got {pair_modes}')
        self.loss = build_pml(loss, losses, 'loss')
        self.kind = loss_kind(self.loss)
        self.miner = build_pml(miner, miners, 'miner')
        self.mixing_weight = float(mixing_weight)
        self.pair_modes = pair_modes
        self.alpha = float(alpha)
        self.lam_mode = lam_mode
        self.proxy_neg_neg = proxy_neg_neg
        self.only_anchors_without_pos = only_anchors_without_pos
        self._warned = False
        self.last_info = {}

    def clean(self, emb: torch.Tensor, labels: torch.Tensor):
        pairs = self.miner(emb, labels) if self.miner is not None else None
        return self.loss(emb, labels, pairs)

    def forward(self, emb: torch.Tensor, labels: torch.Tensor,
                mix_fn: Optional[Callable] = None,
                hard_k: Optional[int] = None) -> dict:
        """``dict(loss_clean=..., loss_mix=w * mixed)`` for ``emb``
        ``(B, d)`` and ``labels`` ``(B,)``.

        ``mix_fn(i, j, lam)`` returns the ``(K, d)`` embeddings of the
        mixes ``lam x_i + (1 - lam) x_j``; ``hard_k`` keeps the ``k``
        hardest negatives of each anchor.
        """
        out = dict(loss_clean=self.clean(emb, labels))
        if self.mixing_weight == 0:
            return out
        mode = self.pair_modes[int(torch.randint(len(self.pair_modes),
                                                 ()))]
        sim = emb.detach() @ emb.detach().t() if hard_k else None
        i, j, a_idx, k_idx = mixing_terms(labels, mode, hard_k, sim,
                                          self.only_anchors_without_pos)
        self.last_info = dict(mixed=float(len(i)), terms=float(len(a_idx)))
        if len(i) == 0:
            if not self._warned:
                warnings.warn(f'MetrixLoss: a batch has no {mode} pairs to '
                              'mix (no positives or no negatives); its mixed '
                              'term is 0')
                self._warned = True
            out['loss_mix'] = emb.sum() * 0
            return out
        lam = sample_lam(self.alpha, len(i), self.lam_mode, emb.device)
        self.last_info['lam'] = lam.mean().detach()      # no host sync
        if self.kind in PAIR_LOSSES:
            if mix_fn is None and gram_trick_applies(self.loss):
                # embedding mixes scored from the Gram matrix, at the
                # (anchor, mixed) terms only
                values = unit_similarity_to_distance(
                    self.loss, mixed_unit_similarity_terms(
                        emb, i, j, lam, a_idx, k_idx))
            else:
                refs = mix_fn(i, j, lam) if mix_fn else mix(emb, i, j, lam)
                values = self.loss.distance(emb, refs)[a_idx, k_idx]
            lam_t = lam[k_idx] if lam.dim() else lam
            y = lam_t * (labels[a_idx] == labels[i[k_idx]]) + (
                1 - lam_t) * (labels[a_idx] == labels[j[k_idx]])
            mixed = reduce_loss_dict(
                self.loss, pair_terms_loss_dict(
                    self.loss, self.kind, values, y.to(values.dtype), a_idx,
                    len(emb)), emb, labels)
        else:
            classes = torch.arange(self.loss.proxies.shape[0],
                                   device=emb.device)
            y = soft_labels(classes, labels, i, j, lam).t()     # (K, C)
            support = None
            if self.kind == 'ProxyAnchorLoss' and not self.proxy_neg_neg:
                support = (classes[None] == labels[i][:, None]) | (
                    classes[None] == labels[j][:, None])
            refs = mix_fn(i, j, lam) if mix_fn else mix(emb, i, j, lam)
            mixed = soft_label_loss(self.loss, None, refs, y, support)
        out['loss_mix'] = self.mixing_weight * mixed
        return out
