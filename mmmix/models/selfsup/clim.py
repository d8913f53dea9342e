"""CLIM: center-wise local image mixture (Li et al., 2020) for MoCo v2,
and its extension to BYOL and SimSiam.

The data side (positives from :class:`~mmmix.datasets.CLIMPairDataset`,
tables from :class:`~mmmix.engine.hooks.CLIMHook`, views from
:class:`~mmmix.datasets.transforms.MultiResolutionViews`) gives each sample
``2 * num_views * num_resolutions`` images: the anchor's views, then the
positive's, each view-major (``view0@r0, view0@r1, ..., view1@r0, ...``).

One step, for every pair ``(query view v, key view w, weight)`` of the base
method (MoCo: ``(0, 1, 1)``; BYOL: ``(0, 1, 2), (1, 0, 2)``; SimSiam:
``(0, 1, .5), (1, 0, .5)``) and every resolution pair ``(r, r')``:

* ``X_r = CutMix(A_v@r, P_v@r)`` with one ``lam`` and relative box per
  sample shared by the resolutions (``lam_r`` is the exact area ratio);
* ``loss_inst += weight * l(q(A_v@r), k(A_w@r'))`` (``use_inst_loss``);
* ``loss_mix += weight * mean(lam_r * l(q(X_r), k(A_w@r'))
  + (1 - lam_r) * l(q(X_r), k(P_w@r')))`` (Eq. 4 / Eq. 6);

``l`` is the base method's pair loss (NCE against the queue for MoCo,
``shift - scale * cos`` of the predictor for BYOL / SimSiam) and the sums
are divided by the number of resolution pairs (``pair_reduction='mean'``).
With ``mix=False`` the positive is pulled without mixing (Table 6, "no
mixing"): ``l(q(A), k(A)) + l(q(A), k(P))``.

Batch-norm semantics (fixed for every ablation): per resolution, the
anchor and mixed queries go through the online encoder as one batch of
``2b``, and the anchor and positive key views through the key encoder as
one (shuffled, for MoCo) batch of ``2b``.

With one resolution, positive = anchor, ``mix_prob=0`` (``lam = 1``) and
``use_inst_loss=False`` every class reduces exactly to its base method.
"""
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BYOL, MoCo, SimSiam
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp

from mmmix.ops.contrastive import mixed_pair_loss
from mmmix.ops.cutmix import (
    cutmix_boxes,
    pairwise_cutmix,
    sample_cutmix_params,
)
from mmmix.registry import MODELS

_REDUCTIONS = ('mean', 'sum')
_RES_PAIRS = ('all', 'same')


class CLIMMixin:
    """The CLIM step shared by :class:`CLIMMoCo`, :class:`CLIMBYOL` and
    :class:`CLIMSimSiam`.

    Args:
        num_resolutions (int): resolutions per view (``len(scales)`` of
            ``MultiResolutionViews``). Defaults to 1.
        num_views (int): views per image (2 for all three bases).
        alpha (float): CutMix ``lam ~ Beta(alpha, alpha)``, > 0. Defaults to
            2.0 (the paper's Table 9).
        mix_prob (float): probability that a sample is mixed, in [0, 1]
            (unmixed samples have ``lam = 1``). Defaults to 1.0.
        per_batch (bool): one ``lam`` and box for the whole batch (CutMix's
            code) instead of per sample. Defaults to False.
        mix (bool): CutMix the positive in (True) or pull it with an
            unmixed pair loss (False). Defaults to True.
        use_inst_loss (bool): keep the base method's instance term.
            Defaults to True (spec ambiguity A1).
        inst_weight (float): weight of the instance term. Defaults to 1.
        mix_weight (float): weight of the mixed (or positive) term.
            Defaults to 1. With 0 no positive is used (the base method over
            the anchor's multi-resolution views; unpaired data is accepted).
        resolution_pairs (str): ``'all'`` ordered pairs ``(r, r')`` (Eq. 6)
            or ``'same'`` (``r = r'`` only). Defaults to ``'all'``.
        pair_reduction (str): ``'mean'`` or ``'sum'`` over resolution pairs
            (Eq. 6 literally sums). Defaults to ``'mean'``.
    """

    #: ``(query view, key view, weight)`` of the base method's loss
    base_pairs: Sequence = ()

    def _init_clim(self,
                   num_resolutions: int = 1,
                   num_views: int = 2,
                   alpha: float = 2.0,
                   mix_prob: float = 1.0,
                   per_batch: bool = False,
                   mix: bool = True,
                   use_inst_loss: bool = True,
                   inst_weight: float = 1.0,
                   mix_weight: float = 1.0,
                   resolution_pairs: str = 'all',
                   pair_reduction: str = 'mean') -> None:
        if not isinstance(num_resolutions, int) or num_resolutions < 1:
            raise ValueError('num_resolutions must be an int >= 1, got '
                             f'{num_resolutions!r}')
        if num_views != 2:
            raise ValueError(f'num_views must be 2 for {type(self).__name__}'
                             f', got {num_views!r}')
        if not alpha > 0:
            raise ValueError(f'alpha must be > 0, got {alpha!r}')
        if not 0 <= mix_prob <= 1:
            raise ValueError(f'mix_prob must be in [0, 1], got {mix_prob!r}')
        if resolution_pairs not in _RES_PAIRS:
            raise ValueError(f'resolution_pairs must be one of {_RES_PAIRS}, '
                             f'got {resolution_pairs!r}')
        if pair_reduction not in _REDUCTIONS:
            raise ValueError(f'pair_reduction must be one of {_REDUCTIONS}, '
                             f'got {pair_reduction!r}')
        if not (use_inst_loss or mix_weight):
            raise ValueError('use_inst_loss=False and mix_weight=0 leave no '
                             'loss')
        self.num_resolutions = num_resolutions
        self.num_views = num_views
        self.alpha = float(alpha)
        self.mix_prob = float(mix_prob)
        self.per_batch = per_batch
        self.mix = mix
        self.use_inst_loss = use_inst_loss
        self.inst_weight = float(inst_weight)
        self.mix_weight = float(mix_weight)
        self.resolution_pairs = resolution_pairs
        self.pair_reduction = pair_reduction

    # ----------------------------------------------------------- per base
    def _update_target(self) -> None:
        """Momentum update of the key / target encoder (if any)."""

    def _query_embed(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def _key_embed(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _pair_losses(self, query: torch.Tensor,
                     keys: torch.Tensor) -> torch.Tensor:
        """``(p, n)`` per-sample losses of ``n`` queries vs ``p`` keys."""
        raise NotImplementedError

    def _after_step(self, keys: Dict) -> None:
        """Called with the key embeddings at the end of a step."""

    @torch.no_grad()
    def selection_features(self, inputs: torch.Tensor,
                           source: str = 'key') -> torch.Tensor:
        """L2-normalised embeddings used to select positives.

        Args:
            inputs (Tensor): preprocessed images.
            source (str): ``'key'`` (momentum / target encoder; the online
                one for SimSiam) or ``'query'`` (online encoder).
        """
        if source == 'query':
            feats = self.neck(self.backbone(inputs))[0]
        elif source == 'key':
            feats = self._selection_key_features(inputs)
        else:
            raise ValueError(
                f"source must be 'key' or 'query', got {source!r}")
        return nn.functional.normalize(feats.float(), dim=1)

    def _selection_key_features(self, inputs):
        return self.neck(self.backbone(inputs))[0]

    # -------------------------------------------------------------- step
    @property
    def uses_positive(self) -> bool:
        """False when ``mix_weight=0``: the base method on the anchor's
        (multi-resolution) views alone."""
        return self.mix_weight != 0

    def _split_views(self, inputs: List[torch.Tensor]):
        per_image = self.num_views * self.num_resolutions
        n = len(inputs) if isinstance(inputs, (list, tuple)) else None
        if n != 2 * per_image and not (n == per_image
                                       and not self.uses_positive):
            got = n if n is not None else type(inputs).__name__
            raise ValueError(
                f'{type(self).__name__} expects {2 * per_image} images per '
                f'sample (anchor then positive, each {self.num_views} views '
                f'x {self.num_resolutions} resolutions: wrap the dataset in '
                'CLIMPairDataset and use MultiResolutionViews with '
                f'{self.num_resolutions} scales), got {got}')
        r = self.num_resolutions

        def views(offset):
            return [[inputs[offset + v * r + j] for j in range(r)]
                    for v in range(self.num_views)]

        return views(0), views(per_image) if n == 2 * per_image else None

    def loss(self, inputs: List[torch.Tensor], data_samples,
             **kwargs) -> Dict[str, torch.Tensor]:
        """CLIM losses: ``loss_inst`` and ``loss_mix`` (``loss_pos`` with
        ``mix=False``)."""
        anchor, positive = self._split_views(inputs)
        use_pos = self.uses_positive
        mix = self.mix and use_pos
        with_anchor = self.use_inst_loss or not mix
        r = self.num_resolutions
        b = anchor[0][0].shape[0]
        device = anchor[0][0].device
        res_pairs = [(i, j) for i in range(r) for j in range(r)] \
            if self.resolution_pairs == 'all' else [(i, i) for i in range(r)]

        # queries (with gradient): anchor and/or mixed views, one batch per
        # query view and resolution
        queries, lams = {}, {}
        for v in sorted({p[0] for p in self.base_pairs}):
            if mix:
                lam, centers = sample_cutmix_params(
                    b, self.alpha, per_batch=self.per_batch,
                    prob=self.mix_prob, device=device)
            for i in range(r):
                parts = [anchor[v][i]] if with_anchor else []
                if mix:
                    h, w = anchor[v][i].shape[-2:]
                    boxes = cutmix_boxes(lam, centers, h, w)
                    mixed, lams[v, i] = pairwise_cutmix(
                        anchor[v][i], positive[v][i], boxes)
                    parts.append(mixed)
                queries[v, i] = self._query_embed(torch.cat(parts))

        # keys (no gradient): anchor (and positive) views in one batch
        self._update_target()
        keys = {}
        for w in sorted({p[1] for p in self.base_pairs}):
            for j in range(r):
                views = [anchor[w][j]] + ([positive[w][j]] if use_pos else [])
                keys[w, j] = self._key_embed(torch.cat(views)).view(
                    len(views), b, -1)

        inst = pos = 0.
        for v, w, weight in self.base_pairs:
            for i in range(r):
                partners = [j for i2, j in res_pairs if i2 == i]
                if not partners:
                    continue
                n_p = len(partners)
                # rows: anchor keys of every partner, then positive keys
                k = torch.cat([keys[w, j] for j in partners])
                k = torch.cat([k[0::2], k[1::2]]) if use_pos else k
                q = queries[v, i]
                if with_anchor and mix:  # queries [anchor; mixed]
                    k = torch.cat([k, k], dim=1)
                losses = self._pair_losses(q, k)  # (rows, len(q))
                if self.use_inst_loss:
                    inst = inst + weight * losses[:n_p, :b].mean(1).sum()
                if mix:
                    l_mix = losses[:, -b:]
                    for t in range(n_p):
                        pos = pos + weight * mixed_pair_loss(
                            l_mix[[t, n_p + t]], lams[v, i])
                elif use_pos:
                    pos = pos + weight * losses[n_p:].mean(1).sum()

        scale = 1. / len(res_pairs) if self.pair_reduction == 'mean' else 1.
        out = {}
        if self.use_inst_loss and self.inst_weight:
            out['loss_inst'] = self.inst_weight * scale * inst
        if use_pos:
            out['loss_mix' if mix else 'loss_pos'] = \
                self.mix_weight * scale * pos
        self._after_step(keys)
        return out


@MODELS.register_module()
class CLIMMoCo(CLIMMixin, MoCo):
    """MoCo v2 + CLIM (Li et al., 2020).

    Args:
        backbone, neck, head, queue_len, feat_dim, momentum, pretrained,
            data_preprocessor, init_cfg: as mmpretrain's ``MoCo``; the head
            must give per-sample terms
            (:class:`~mmmix.models.heads.MixedContrastiveHead`).
        enqueue (str): keys pushed to the queue each step:
            ``'anchor_base'`` (anchor keys at the first resolution, the
            default: spec A11), ``'anchor_all_res'`` or
            ``'anchor_and_pos'`` (anchor and positive, first resolution).
        **clim_cfg: the CLIM options of :class:`CLIMMixin`.
    """

    base_pairs = ((0, 1, 1.0), )
    _ENQUEUE = ('anchor_base', 'anchor_all_res', 'anchor_and_pos')

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 momentum: float = 0.001,
                 enqueue: str = 'anchor_base',
                 pretrained=None,
                 data_preprocessor=None,
                 init_cfg=None,
                 **clim_cfg) -> None:
        super().__init__(
            backbone=backbone, neck=neck, head=head, queue_len=queue_len,
            feat_dim=feat_dim, momentum=momentum, pretrained=pretrained,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if enqueue not in self._ENQUEUE:
            raise ValueError(f'enqueue must be one of {self._ENQUEUE}, got '
                             f'{enqueue!r}')
        if not hasattr(self.head, 'pair_losses'):
            raise ValueError(
                'CLIMMoCo needs a head with per-sample pair losses, e.g. '
                f"dict(type='mmmix.MixedContrastiveHead'), got "
                f'{type(self.head).__name__}')
        self.enqueue = enqueue
        self._init_clim(**clim_cfg)

    def _query_embed(self, x):
        return nn.functional.normalize(self.neck(self.backbone(x))[0], dim=1)

    def _update_target(self):
        self.encoder_k.update_parameters(
            nn.Sequential(self.backbone, self.neck))

    @torch.no_grad()
    def _key_embed(self, x):
        x, idx_unshuffle = batch_shuffle_ddp(x)
        k = nn.functional.normalize(self.encoder_k(x)[0], dim=1)
        return batch_unshuffle_ddp(k, idx_unshuffle)

    def _pair_losses(self, query, keys):
        return self.head.pair_losses(query, keys, self.queue.clone().detach())

    def _selection_key_features(self, inputs):
        return self.encoder_k(inputs)[0]

    def _after_step(self, keys):
        if self.enqueue == 'anchor_base':
            k = keys[1, 0][0]
        elif self.enqueue == 'anchor_all_res':
            k = torch.cat([keys[1, j][0]
                           for j in range(self.num_resolutions)])
        else:  # anchor and positive (when a positive is used)
            k = keys[1, 0].flatten(0, 1)
        self._dequeue_and_enqueue(k)


class _LatentCLIM(CLIMMixin):
    """Shared parts of the BYOL and SimSiam variants."""

    def _check_head(self):
        if not hasattr(self.head, 'pair_losses'):
            raise ValueError(
                f'{type(self).__name__} needs a head with per-sample pair '
                "losses, e.g. dict(type='mmmix.MixedLatentPredictHead'), got "
                f'{type(self.head).__name__}')

    def _query_embed(self, x):
        return self.neck(self.backbone(x))[0]

    def _pair_losses(self, query, keys):
        return self.head.pair_losses(query, keys)


@MODELS.register_module()
class CLIMBYOL(_LatentCLIM, BYOL):
    """BYOL + CLIM (an mmmix extension; the paper defines CLIM for MoCo).

    The pair loss is BYOL's ``2 - 2 cos(predictor(online), target)``; the
    symmetric base loss ``2 * (l(v1, v2) + l(v2, v1))`` keeps its weights.

    Args:
        backbone, neck, head, base_momentum, pretrained, data_preprocessor,
            init_cfg: as mmpretrain's ``BYOL``; the head must give per-sample
            terms (:class:`~mmmix.models.heads.MixedLatentPredictHead`).
        **clim_cfg: the CLIM options of :class:`CLIMMixin`.
    """

    base_pairs = ((0, 1, 2.0), (1, 0, 2.0))

    def __init__(self, backbone, neck, head, base_momentum=0.004,
                 pretrained=None, data_preprocessor=None, init_cfg=None,
                 **clim_cfg) -> None:
        super().__init__(
            backbone=backbone, neck=neck, head=head,
            base_momentum=base_momentum, pretrained=pretrained,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._check_head()
        self._init_clim(**clim_cfg)

    def _update_target(self):
        self.target_net.update_parameters(
            nn.Sequential(self.backbone, self.neck))

    @torch.no_grad()
    def _key_embed(self, x):
        return self.target_net(x)[0]

    def _selection_key_features(self, inputs):
        return self.target_net(inputs)[0]


@MODELS.register_module()
class CLIMSimSiam(_LatentCLIM, SimSiam):
    """SimSiam + CLIM (an mmmix extension; the paper defines CLIM for MoCo).

    SimSiam has no momentum encoder: keys are the online projections of the
    key views under ``no_grad`` (SimSiam's stop-gradient). The symmetric
    base loss ``0.5 * (l(v1, v2) + l(v2, v1))`` keeps its weights.

    Args:
        backbone, neck, head, pretrained, data_preprocessor, init_cfg: as
            mmpretrain's ``SimSiam``; the head must give per-sample terms
            (:class:`~mmmix.models.heads.MixedLatentPredictHead`).
        **clim_cfg: the CLIM options of :class:`CLIMMixin`.
    """

    base_pairs = ((0, 1, 0.5), (1, 0, 0.5))

    def __init__(self, backbone, neck, head, pretrained=None,
                 data_preprocessor=None, init_cfg=None, **clim_cfg) -> None:
        super().__init__(
            backbone=backbone, neck=neck, head=head, pretrained=pretrained,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._check_head()
        self._init_clim(**clim_cfg)

    @torch.no_grad()
    def _key_embed(self, x):
        return self.neck(self.backbone(x))[0]
