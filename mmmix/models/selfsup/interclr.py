"""InterCLR (Xie et al., 2021): an inter-image branch on a pseudo-labelled
memory bank, for NPID(v2), MoCo v2 and BYOL.

The loss is ``lambda * L_intra + (1 - lambda) * L_inter`` (Eq. 6). The
intra-image term is the base method's own loss; the inter-image term
contrasts the online embedding with a bank entry of the same k-means cluster
(the positive) against ``K`` bank entries of other clusters (MarginNCE), or,
for BYOL, regresses the prediction onto that positive. The bank is written
with features the step has computed anyway (the key / target encoder's, the
online one for NPID): the inter branch never re-encodes an image. The
scores against the bank are gathered from one ``q @ bank.T`` product (no
copy of the ``K`` negative rows), so a step stages its bank update and the
memory hook writes it after the optimizer step. Labels are maintained by
:class:`mmmix.InterCLRHook` (spec ``interclr.md``).
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.selfsup import BYOL, BaseSelfSupervisor, MoCo
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp

from mmmix.ops.pair_sampling import (
    NEGATIVE_STRATEGIES,
    draw_cluster_positives,
    gather_scores,
    sample_negatives,
)
from mmmix.registry import MODELS

LABEL_UPDATES = ('online', 'offline')


def sample_indices(data_samples, device=None,
                   length: Optional[int] = None) -> torch.Tensor:
    """``(b,)`` int64 dataset indices from the data samples' metainfo,
    checked against ``[0, length)`` on the host (no device sync)."""
    try:
        idx = [int(ds.sample_idx) for ds in data_samples]
    except (AttributeError, KeyError, TypeError) as err:
        raise KeyError(
            "memory-bank methods need 'sample_idx' in every data sample's "
            "metainfo (mmengine datasets set it and PackInputs keeps it by "
            'default; dataset wrappers that renumber samples are not '
            'supported)') from err
    if length is not None and idx and not 0 <= min(idx) <= max(idx) < length:
        raise IndexError(f'sample_idx out of the memory range [0, {length}):'
                         f' [{min(idx)}, {max(idx)}]')
    return torch.tensor(idx, dtype=torch.long, device=device)


class InterCLRMixin:
    """The inter-image branch, the loss weights and the memory updates.

    Args (of :meth:`_init_interclr`, forwarded from the subclasses):
        memory (dict): a :class:`mmmix.PseudoLabelMemory` config
            (``length`` = training-set size, ``feat_dim``, ``num_clusters``,
            ``momentum``, ...); None keeps the base method's memory.
        inter_head (dict, optional): head of the inter branch; for the
            contrastive bases a :class:`mmmix.MarginNCEHead` (InterCLR:
            margin -0.5, the intra head's temperature). BYOL uses its own
            head's predictor and loss and takes None.
        intra_weight (float): ``lambda`` in [0, 1]. Defaults to 0.75.
        num_negatives (int): ``K`` inter negatives. Defaults to 16384.
        neg_strategy (str): ``'semihard'`` (default), ``'random'``,
            ``'hard'`` or ``'semieasy'``.
        pool_ratio (float): pool size ``P`` of the semi-hard / semi-easy
            strategies as a fraction of the bank, in (0, 1]. Defaults to 0.1.
        pool_size (int, optional): ``P`` itself; overrides ``pool_ratio``.
        exclude_self_positive (bool): never draw the anchor's own bank entry
            as its inter positive (spec A15). Defaults to False, as the
            released code.
        label_update (str): ``'online'`` (every step the batch rows join
            their nearest centroid; the paper's choice) or ``'offline'``
            (labels change only at the hook's global re-clustering).
    """

    #: the hook initialises the memory before training
    memory_needs_clusters = True

    def _init_interclr(self, memory: dict, inter_head: Optional[dict],
                       intra_weight: float, num_negatives: int,
                       neg_strategy: str, pool_ratio: float,
                       pool_size: Optional[int], exclude_self_positive: bool,
                       label_update: str, needs_negatives: bool = True
                       ) -> None:
        if not 0. <= intra_weight <= 1.:
            raise ValueError(f'intra_weight (lambda) must be in [0, 1], '
                             f'got {intra_weight}')
        if label_update not in LABEL_UPDATES:
            raise ValueError(f'label_update must be one of {LABEL_UPDATES}, '
                             f'got {label_update!r}')
        if memory is not None:  # NPID's memory is built by NPID
            self.memory = MODELS.build(memory)
        if self.memory.num_clusters is None:
            raise ValueError('InterCLR needs memory.num_clusters (k)')
        n = self.memory.length
        self.needs_negatives = needs_negatives
        if needs_negatives and self.memory.num_clusters < 2:
            raise ValueError('memory.num_clusters must be >= 2: negatives '
                             'come from the other clusters')
        if needs_negatives:
            if neg_strategy not in NEGATIVE_STRATEGIES:
                raise ValueError(f'neg_strategy must be one of '
                                 f'{NEGATIVE_STRATEGIES}, got '
                                 f'{neg_strategy!r}')
            if not isinstance(num_negatives, int) or \
                    not 1 <= num_negatives <= n:
                raise ValueError(f'num_negatives must be an int in [1, {n}] '
                                 f'(memory length), got {num_negatives!r}')
            if pool_size is None:
                if not 0. < pool_ratio <= 1.:
                    raise ValueError('pool_ratio must be in (0, 1], got '
                                     f'{pool_ratio}')
                pool_size = max(1, int(round(pool_ratio * n)))
            if neg_strategy in ('semihard', 'semieasy') and \
                    not num_negatives <= pool_size <= n:
                raise ValueError(
                    f'the {neg_strategy} pool (pool_size={pool_size}, or '
                    f'pool_ratio * {n}) must hold num_negatives='
                    f'{num_negatives} and at most the {n} memory rows')
            if inter_head is None:
                raise ValueError('inter_head is required (e.g. '
                                 "dict(type='mmmix.MarginNCEHead', "
                                 'margin=-0.5))')
            self.inter_head = MODELS.build(inter_head)
        self.intra_weight = float(intra_weight)
        self.inter_weight = 1. - float(intra_weight)
        self.num_negatives = num_negatives
        self.neg_strategy = neg_strategy
        self.pool_size = pool_size
        self.exclude_self_positive = bool(exclude_self_positive)
        self.label_update = label_update

    # ------------------------------------------------------------ branch
    def _check_memory_ready(self) -> None:
        if not self.memory.labelled:
            raise RuntimeError(
                f'{type(self).__name__} has an unclustered memory: add '
                "dict(type='mmmix.InterCLRHook', ...) to custom_hooks (it "
                'clusters the training set before the first step)')

    def _inter_positives(self, idx: torch.Tensor) -> torch.Tensor:
        return draw_cluster_positives(self.memory.table(), idx,
                                      self.exclude_self_positive)

    def bank_similarity(self, q: torch.Tensor) -> Optional[torch.Tensor]:
        """``q @ feats.T`` (with gradient) when the negative strategy ranks
        the bank, else None (``random`` needs no similarities)."""
        if self.neg_strategy == 'random':
            return None
        return q.float() @ self.memory.feats.t()

    def inter_nce_loss(self, q: torch.Tensor, idx: torch.Tensor,
                       sim: Optional[torch.Tensor] = None) -> torch.Tensor:
        """MarginNCE of the normalised online embeddings ``q`` against one
        same-cluster positive and ``K`` other-cluster negatives of the bank.

        The candidates are ranked on ``sim`` (``q @ feats.T``, formed here
        unless given) and the scores are gathered from it, so the ``K``
        bank rows are never copied; the bank is unchanged until after the
        backward pass (updates are staged).

        Args:
            q (Tensor): ``(b, d)`` unit embeddings with gradient.
            idx (Tensor): ``(b,)`` their dataset indices.
            sim (Tensor, optional): :meth:`bank_similarity` of ``q``.
        """
        self._check_memory_ready()
        mem = self.memory
        if sim is None:
            sim = self.bank_similarity(q)
        pos = self._inter_positives(idx)
        neg = sample_negatives(
            None if sim is None else sim.detach(), mem.labels,
            mem.labels[idx], self.num_negatives, self.neg_strategy,
            self.pool_size, table=mem.table(), idx=idx)
        q = q.float()
        l_pos = gather_scores(q, mem.feats, pos, sim)
        l_neg = gather_scores(q, mem.feats, neg, sim)
        return self.inter_head.loss(l_pos, l_neg)

    def _combine(self, intra: torch.Tensor, inter_fn) -> Dict:
        """``{'intra_loss': lambda * L_intra, 'inter_loss': ...}``; the
        inter branch is skipped (not computed) when its weight is 0."""
        losses = dict(intra_loss=self.intra_weight * intra)
        if self.inter_weight > 0:
            losses['inter_loss'] = self.inter_weight * inter_fn()
        return losses

    @torch.no_grad()
    def commit_memory(self) -> Optional[torch.Tensor]:
        """Write the staged bank update of the last step and, with online
        labels, reassign its rows (the E-step). Returns the fraction of
        rows whose label changed, or None. :class:`mmmix.InterCLRHook`
        calls it after every optimizer step; each step also calls it first,
        so nothing depends on the hook for correctness."""
        return self.memory.commit(reassign=self.label_update == 'online')

    @torch.no_grad()
    def interclr_features(self, inputs: torch.Tensor,
                          source: str = 'online') -> torch.Tensor:
        """L2-normalised embeddings of ``inputs`` for the global clustering:
        ``'online'`` backbone + neck (the released code) or ``'target'``
        (the momentum / target encoder, spec A16)."""
        if source == 'online':
            feats = self.neck(self.backbone(inputs))[0]
        elif source == 'target':
            feats = self._target_features(inputs)
        else:
            raise ValueError("source must be 'online' or 'target', got "
                             f'{source!r}')
        return F.normalize(feats.float(), dim=1)

    def _target_features(self, inputs):
        return self.neck(self.backbone(inputs))[0]


def _interclr_kwargs(memory, inter_head, intra_weight, num_negatives,
                     neg_strategy, pool_ratio, pool_size,
                     exclude_self_positive, label_update, **extra):
    return dict(memory=memory, inter_head=inter_head,
                intra_weight=intra_weight, num_negatives=num_negatives,
                neg_strategy=neg_strategy, pool_ratio=pool_ratio,
                pool_size=pool_size,
                exclude_self_positive=exclude_self_positive,
                label_update=label_update, **extra)


@MODELS.register_module()
class InterCLRMoCo(InterCLRMixin, MoCo):
    """MoCo v2 + InterCLR (the variant with released code).

    Intra: MoCo's query/key/queue loss with ``head`` (a
    :class:`mmmix.MarginNCEHead` takes an intra margin). Inter: MarginNCE
    of the query against the memory, which stores the (normalised) keys
    with momentum 1. ``intra_weight=1`` is MoCo exactly. See
    :class:`InterCLRMixin` for the InterCLR arguments and
    :class:`~mmpretrain.models.MoCo` for the others.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, memory: dict,
                 inter_head: Optional[dict] = None,
                 intra_weight: float = 0.75, num_negatives: int = 16384,
                 neg_strategy: str = 'semihard', pool_ratio: float = 0.1,
                 pool_size: Optional[int] = None,
                 exclude_self_positive: bool = False,
                 label_update: str = 'online', queue_len: int = 65536,
                 feat_dim: int = 128, momentum: float = 0.001,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         queue_len=queue_len, feat_dim=feat_dim,
                         momentum=momentum, pretrained=pretrained,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self._init_interclr(**_interclr_kwargs(
            memory, inter_head, intra_weight, num_negatives, neg_strategy,
            pool_ratio, pool_size, exclude_self_positive, label_update))

    def _target_features(self, inputs):
        return self.encoder_k(inputs)[0]

    def loss(self, inputs: List[torch.Tensor], data_samples,
             **kwargs) -> Dict[str, torch.Tensor]:
        """``intra_loss`` and ``inter_loss``; stages the bank update."""
        self.commit_memory()
        idx = sample_indices(data_samples, inputs[0].device,
                             self.memory.length)
        im_q, im_k = inputs[0], inputs[1]
        q = F.normalize(self.neck(self.backbone(im_q))[0], dim=1)
        with torch.no_grad():
            self.encoder_k.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            im_k, idx_unshuffle = batch_shuffle_ddp(im_k)
            k = F.normalize(self.encoder_k(im_k)[0], dim=1)
            k = batch_unshuffle_ddp(k, idx_unshuffle)
        l_pos = torch.einsum('nc,nc->n', [q, k]).unsqueeze(-1)
        l_neg = torch.einsum('nc,ck->nk', [q, self.queue.clone().detach()])
        losses = self._combine(self.head.loss(l_pos, l_neg),
                               lambda: self.inter_nce_loss(q, idx))
        self._dequeue_and_enqueue(k)
        self.memory.stage(idx, k)
        return losses


@MODELS.register_module()
class InterCLRBYOL(InterCLRMixin, BYOL):
    """BYOL + InterCLR (no released code; spec §3.6.3 and A5).

    Intra: BYOL's symmetric loss. Inter: no negatives, no margin: each
    view's prediction regresses onto one same-cluster bank entry,
    ``2 * (l(p_1, z+) + l(p_2, z+))`` with BYOL's ``l = 2 - 2 cos``, the
    same scale as the intra term. The memory stores the normalised mean of
    the two views' normalised target projections (momentum 1 by default).
    ``intra_weight=1`` is BYOL exactly.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, memory: dict,
                 intra_weight: float = 0.75,
                 exclude_self_positive: bool = False,
                 label_update: str = 'online', base_momentum: float = 0.004,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         base_momentum=base_momentum, pretrained=pretrained,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self._init_interclr(**_interclr_kwargs(
            memory, None, intra_weight, None, None, None, None,
            exclude_self_positive, label_update, needs_negatives=False))

    def _target_features(self, inputs):
        return self.target_net(inputs)[0]

    def loss(self, inputs: List[torch.Tensor], data_samples,
             **kwargs) -> Dict[str, torch.Tensor]:
        """``intra_loss`` and ``inter_loss``; stages the bank update."""
        self.commit_memory()
        idx = sample_indices(data_samples, inputs[0].device,
                             self.memory.length)
        img_v1, img_v2 = inputs[0], inputs[1]
        proj_v1 = self.neck(self.backbone(img_v1))[0]
        proj_v2 = self.neck(self.backbone(img_v2))[0]
        with torch.no_grad():
            self.target_net.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            target_v1 = self.target_net(img_v1)[0]
            target_v2 = self.target_net(img_v2)[0]
        pred_v1 = self.head.predictor([proj_v1])[0]
        pred_v2 = self.head.predictor([proj_v2])[0]
        criterion = self.head.loss_module
        intra = 2. * (criterion(pred_v1, target_v2) +
                      criterion(pred_v2, target_v1))

        def inter():
            self._check_memory_ready()
            pos = self.memory.feats[self._inter_positives(idx)]
            return 2. * (criterion(pred_v1, pos) + criterion(pred_v2, pos))

        losses = self._combine(intra, inter)
        bank_feats = F.normalize(target_v1, dim=1) + \
            F.normalize(target_v2, dim=1)
        self.memory.stage(idx, bank_feats)
        return losses


@MODELS.register_module()
class NPID(BaseSelfSupervisor):
    """Non-parametric instance discrimination (Wu et al., 2018), the base of
    InterCLR's NPIDv2 (2-layer MLP neck and Gaussian blur in the views).

    One view per image: the normalised embedding ``q_i`` is contrasted
    with its own memory entry against ``K`` entries drawn uniformly with
    replacement from the whole memory (``head``: a contrastive head, e.g.
    :class:`mmmix.MarginNCEHead` with temperature 0.1); afterwards the
    memory takes ``q_i`` with ``memory.momentum`` (NPID: 0.5).

    Args:
        backbone, neck, head (dict): module configs.
        memory (dict): a :class:`mmmix.PseudoLabelMemory` config.
        num_negatives (int): ``K``. Defaults to 16384.
    """

    #: the memory starts random (NPID), no clustering needed
    memory_needs_clusters = False

    def __init__(self, backbone: dict, neck: dict, head: dict, memory: dict,
                 num_negatives: int = 16384, pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         pretrained=pretrained,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.memory = MODELS.build(memory)
        if not isinstance(num_negatives, int) or \
                not 1 <= num_negatives <= self.memory.length:
            raise ValueError(f'num_negatives must be an int in [1, '
                             f'{self.memory.length}] (memory length), got '
                             f'{num_negatives!r}')
        self.num_intra_negatives = num_negatives

    def embed(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        return F.normalize(self.neck(self.backbone(x))[0], dim=1)

    def intra_loss(self, q: torch.Tensor, idx: torch.Tensor,
                   sim: Optional[torch.Tensor] = None) -> torch.Tensor:
        """NPID's NCE: own memory entry vs ``K`` uniform entries (scores
        gathered from ``sim = q @ feats.T`` when given)."""
        neg = torch.randint(self.memory.length,
                            (q.shape[0], self.num_intra_negatives),
                            device=q.device)
        bank = self.memory.feats
        qf = q.float()
        return self.head.loss(gather_scores(qf, bank, idx, sim),
                              gather_scores(qf, bank, neg, sim))

    def loss(self, inputs: List[torch.Tensor], data_samples,
             **kwargs) -> Dict[str, torch.Tensor]:
        self.commit_memory()
        idx = sample_indices(data_samples, self.memory.feats.device,
                             self.memory.length)
        q = self.embed(inputs)
        loss = self.intra_loss(q, idx)
        self.memory.stage(idx, q)
        return dict(loss=loss)

    @torch.no_grad()
    def commit_memory(self) -> None:
        """Write the staged bank update of the last step
        (:class:`mmmix.MemoryBankHook` calls it after every optimizer
        step; each step also calls it first)."""
        self.memory.commit()


@MODELS.register_module()
class InterCLRNPID(InterCLRMixin, NPID):
    """NPIDv2 + InterCLR, the paper's prototype for its ablations: both
    branches use NPID's memory (the online embeddings, momentum 0.5).
    ``intra_weight=1`` is :class:`NPID` exactly. ``num_negatives`` is the
    intra branch's ``K``, ``num_inter_negatives`` the inter branch's (None:
    the same, as the paper). See :class:`InterCLRMixin` for the rest.
    """

    memory_needs_clusters = True

    def __init__(self, backbone: dict, neck: dict, head: dict, memory: dict,
                 inter_head: Optional[dict] = None,
                 intra_weight: float = 0.75, num_negatives: int = 16384,
                 num_inter_negatives: Optional[int] = None,
                 neg_strategy: str = 'semihard', pool_ratio: float = 0.1,
                 pool_size: Optional[int] = None,
                 exclude_self_positive: bool = False,
                 label_update: str = 'online',
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         memory=memory, num_negatives=num_negatives,
                         pretrained=pretrained,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self._init_interclr(**_interclr_kwargs(
            None, inter_head, intra_weight,
            num_inter_negatives or num_negatives, neg_strategy, pool_ratio,
            pool_size, exclude_self_positive, label_update))

    def loss(self, inputs: List[torch.Tensor], data_samples,
             **kwargs) -> Dict[str, torch.Tensor]:
        """``intra_loss`` and ``inter_loss``; stages the bank update."""
        self.commit_memory()
        idx = sample_indices(data_samples, self.memory.feats.device,
                             self.memory.length)
        q = self.embed(inputs)
        sim = None
        if self.inter_weight > 0:
            sim = self.bank_similarity(q)  # shared by both branches
        losses = self._combine(self.intra_loss(q, idx, sim),
                               lambda: self.inter_nce_loss(q, idx, sim))
        self.memory.stage(idx, q)
        return losses

