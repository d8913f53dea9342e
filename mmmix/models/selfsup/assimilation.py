"""A2: assimilating generated ("learned") views into SSL methods.

"On Assimilating Learned Views in Contrastive Learning" (spec
``assimilating_views.md`` §5). Every model here takes
``inputs = [v1, v2, g_1, ..., g_k]``: the two expert views first, then
``k >= 0`` generated views (``k = len(inputs) - 2``; a data pipeline such
as ``MultiView(num_views=[2, 1], ...)`` with the generated-view pipeline
last gives this order). Generated views only enter an alignment term
``loss_align`` that is *added* to the base method's loss (it is a negative
alignment for the contrastive models, a prediction loss for the
predictor-based ones). With ``alpha = 0`` the total equals the base
method's loss on ``[v1, v2]``; with ``k = 0`` the model is the base method
(``loss_align`` is then a constant 0, kept so that log columns do not
change).

A1 (replacement of one expert view by a generated one) needs no model:
mmpretrain's stock ``SimCLR`` (or any two-view model) with a pipeline whose
second view is the generated one is A1.

* :class:`A2SimCLR`: the paper's A2 (Eq. 4; Table 11 variants).
* :class:`A2SimSiam`: the paper's Eq. 16 (App. F).
* :class:`A2MoCoV2`, :class:`A2BYOL`: extrapolations of §5.4 (not in the
  paper).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BYOL, MoCo, SimCLR, SimSiam
from mmpretrain.models.selfsup.simclr import GatherLayer
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp

from mmmix.ops.assimilation import (
    ALIGN_ANCHORS,
    a2_full_loss,
    alignment_term,
    cross_view_infonce,
    nt_xent,
)
from mmmix.registry import MODELS

BASE_LOSSES = ('infonce', 'ntxent', 'a2_full')
FORWARD_MODES = ('concat', 'separate')


def split_views(inputs, owner: str
                ) -> Tuple[torch.Tensor, torch.Tensor, List[torch.Tensor]]:
    """``(v1, v2, [g_1..g_k])`` of ``inputs = [v1, v2, g_1..g_k]``, with
    the batch sizes checked."""
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
        got = len(inputs) if isinstance(inputs, (list, tuple)) else \
            type(inputs).__name__
        raise ValueError(
            f'{owner} expects inputs = [v1, v2, g_1, ..., g_k]: a list of '
            f'>= 2 view batches (expert views first, generated views last),'
            f' got {got}')
    n = inputs[0].shape[0]
    for j, x in enumerate(inputs):
        if x.shape[0] != n:
            raise ValueError(
                f'{owner}: every view batch must hold the same images; '
                f'inputs[{j}] has batch size {x.shape[0]}, inputs[0] {n}')
    return inputs[0], inputs[1], list(inputs[2:])


def _check_alpha(alpha) -> float:
    if not float(alpha) >= 0:
        raise ValueError(f'alpha must be >= 0, got {alpha!r}')
    return float(alpha)


def _check_anchors(align_anchors) -> str:
    if align_anchors not in ALIGN_ANCHORS:
        raise ValueError(f'align_anchors must be one of {ALIGN_ANCHORS}, got'
                         f' {align_anchors!r}')
    return align_anchors


def _resolve_temperature(temperature, head, default) -> float:
    head_t = getattr(head, 'temperature', None)
    if temperature is None:
        temperature = head_t if head_t is not None else default
    elif head_t is not None and float(head_t) != float(temperature):
        raise ValueError(
            f'temperature={temperature} differs from the head temperature '
            f'{head_t}; set them equal (or leave temperature=None to use the'
            ' head\'s)')
    if temperature is None:
        raise ValueError('temperature is required: the head has none')
    if not float(temperature) > 0:
        raise ValueError(f'temperature must be > 0, got {temperature!r}')
    return float(temperature)


@MODELS.register_module()
class A2SimCLR(SimCLR):
    """SimCLR with assimilated generated views (A2, Eq. 4).

    ``loss_cl`` is the base contrastive loss of the two expert views only
    (generated views are neither anchors nor negatives), ``loss_align`` is
    ``-L_align = -alpha / tau * mean_i (1/k) sum_p z_i . z_p`` over the
    expert anchors ``i`` (:func:`mmmix.ops.assimilation.alignment_term`):
    the negative alignment, the quantity *added* to the total. Both are
    multiplied by ``loss_weight``. With ``base_loss='a2_full'`` the single
    key ``loss_cl`` holds Eq. 13, where generated views are anchors,
    positives and negatives, and ``alpha`` is not used.

    The contrastive loss is computed on the embeddings of all processes
    (gathered as mmpretrain's ``SimCLR`` does; a no-op on one process); the
    alignment term on the local batch.

    Args:
        backbone (dict): backbone config.
        neck (dict): projection head config.
        head (dict, optional): not used for the loss; accepted so that
            configs inheriting mmpretrain's SimCLR keep working. When it has
            a ``temperature`` it must equal ``temperature``.
        alpha (float): alignment weight, >= 0. Defaults to 0.5.
        temperature (float, optional): ``tau`` > 0 of the contrastive loss
            and of the alignment term. Defaults to the head's temperature,
            or 0.5 without a head.
        base_loss (str): ``'infonce'`` (cross-view Eq. 12, the paper's A2),
            ``'ntxent'`` (Eq. 1, mmpretrain's SimCLR loss: A2-SimCLR) or
            ``'a2_full'`` (Eq. 13). Defaults to ``'infonce'``.
        align_anchors (str): ``'all'`` (both expert views, Eq. 4) or
            ``'first'`` (view 1, the CIFAR10 reference code). Defaults to
            ``'all'``.
        forward_mode (str): ``'concat'``: one backbone pass over the
            ``(2 + k) N`` images (shared BN statistics, the SupContrast
            code); ``'separate'``: one pass per view (the E-SSL code).
            Defaults to ``'concat'``.
        loss_weight (float): factor of every loss term, >= 0; the
            SupContrast code's ``tau / 0.07`` (7.142857 at ``tau = 0.5``) is
            spec A11. Defaults to 1.0.
        pretrained, data_preprocessor, init_cfg: as mmpretrain's models.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: Optional[dict] = None,
                 alpha: float = 0.5,
                 temperature: Optional[float] = None,
                 base_loss: str = 'infonce',
                 align_anchors: str = 'all',
                 forward_mode: str = 'concat',
                 loss_weight: float = 1.0,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone=backbone, neck=neck, head=head, pretrained=pretrained,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if base_loss not in BASE_LOSSES:
            raise ValueError(f'base_loss must be one of {BASE_LOSSES}, got '
                             f'{base_loss!r}')
        if forward_mode not in FORWARD_MODES:
            raise ValueError(f'forward_mode must be one of {FORWARD_MODES}, '
                             f'got {forward_mode!r}')
        if not float(loss_weight) >= 0:
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight!r}')
        self.alpha = _check_alpha(alpha)
        self.temperature = _resolve_temperature(temperature, self.head, 0.5)
        self.base_loss = base_loss
        self.align_anchors = _check_anchors(align_anchors)
        self.forward_mode = forward_mode
        self.loss_weight = float(loss_weight)

    def embed_views(self, views: Sequence[torch.Tensor]
                    ) -> List[torch.Tensor]:
        """``(N, d)`` projections (not normalised) of every view batch, by
        one backbone pass (``concat``) or one per view (``separate``)."""
        if self.forward_mode == 'separate':
            return [self.neck(self.backbone(v))[0] for v in views]
        shapes = {tuple(v.shape[1:]) for v in views}
        if len(shapes) > 1:
            raise ValueError(
                "forward_mode='concat' needs views of one shape, got "
                f'{[tuple(v.shape) for v in views]}; resize the generated '
                "views in the pipeline or use forward_mode='separate'")
        z = self.neck(self.backbone(torch.cat(list(views))))[0]
        return list(z.split(views[0].shape[0]))

    def loss(self, inputs: List[torch.Tensor], data_samples=None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_cl`` and (except for ``'a2_full'``) ``loss_align``."""
        v1, v2, gens = split_views(inputs, type(self).__name__)
        z1, z2, *zg = self.embed_views([v1, v2] + gens)
        z1_all = torch.cat(GatherLayer.apply(z1))
        z2_all = torch.cat(GatherLayer.apply(z2))
        tau, w = self.temperature, self.loss_weight
        if self.base_loss == 'infonce':
            cl = cross_view_infonce(z1_all, z2_all, tau)
        elif self.base_loss == 'ntxent':
            cl = nt_xent(z1_all, z2_all, tau)
        else:
            zg_all = [torch.cat(GatherLayer.apply(g)) for g in zg]
            return dict(loss_cl=w * a2_full_loss(z1_all, z2_all, zg_all, tau))
        align = alignment_term(z1, z2, zg, self.alpha, tau,
                               self.align_anchors)
        return dict(loss_cl=w * cl, loss_align=-w * align)


class _LatentA2:
    """Eq. 16-style alignment of the predictor-based methods."""

    def _init_latent_a2(self, alpha, align_anchors):
        self.alpha = _check_alpha(alpha)
        self.align_anchors = _check_anchors(align_anchors)

    def _latent_alignment(self, proj_gen: Optional[torch.Tensor],
                          targets: Sequence[torch.Tensor]) -> torch.Tensor:
        """``alpha * mean_i D(pred(proj_gen), sg(t_i))`` over the targets
        ``t_i`` (two, or the first with ``align_anchors='first'``), D the
        head's loss module; ``proj_gen`` is ``(k N, d)``, the ``k``
        generated views stacked view-major (the mean over ``k N`` rows is
        the ``1 / k`` average)."""
        if proj_gen is None:
            return targets[0].new_zeros(())
        if self.align_anchors == 'first':
            targets = targets[:1]
        pred = self.head.predictor([proj_gen])[0]
        reps = proj_gen.shape[0] // targets[0].shape[0]
        d = sum(self.head.loss_module(pred, t.detach().repeat(reps, 1))
                for t in targets) / len(targets)
        return self.alpha * d


@MODELS.register_module()
class A2SimSiam(_LatentA2, SimSiam):
    """SimSiam with assimilated generated views (Eq. 16, D = -cos).

    ``loss_base`` is SimSiam's symmetric loss on the two expert views (not
    ``loss``: mmengine logs the optimised total under that key);
    ``loss_align`` (added) is
    ``alpha * mean_i D(predictor(z_g), stopgrad(z_i))`` averaged over the
    expert anchors ``i`` and the ``k`` generated views, with ``D`` the
    head's loss module (``CosineSimilarityLoss``: the negative cosine). The
    generated views go through the online encoder in one batch of ``k N``
    (the expert views in one batch each, as in ``SimSiam``); the expert
    projections are only stop-gradient targets of the alignment.

    Args:
        backbone, neck, head, pretrained, data_preprocessor, init_cfg: as
            mmpretrain's ``SimSiam``.
        alpha (float): >= 0. Defaults to 0.5.
        align_anchors (str): ``'all'`` or ``'first'``. Defaults to
            ``'all'``.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict,
                 alpha: float = 0.5, align_anchors: str = 'all',
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone=backbone, neck=neck, head=head, pretrained=pretrained,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._init_latent_a2(alpha, align_anchors)

    def loss(self, inputs: List[torch.Tensor], data_samples=None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_base`` (SimSiam's) and ``loss_align``; mmengine logs
        their sum as ``loss``."""
        v1, v2, gens = split_views(inputs, type(self).__name__)
        z1 = self.neck(self.backbone(v1))[0]
        z2 = self.neck(self.backbone(v2))[0]
        base = 0.5 * (self.head.loss(z1, z2) + self.head.loss(z2, z1))
        zg = self.neck(self.backbone(torch.cat(gens)))[0] if gens else None
        return dict(loss_base=base,
                    loss_align=self._latent_alignment(zg, (z1, z2)))


@MODELS.register_module()
class A2BYOL(_LatentA2, BYOL):
    """BYOL with assimilated generated views (an extrapolation, spec §5.4).

    ``loss_base`` is BYOL's ``2 * (l(v1, v2) + l(v2, v1))``;
    ``loss_align`` (added) is
    ``alpha * mean_i D(predictor(online(g)), stopgrad(target(v_i)))`` over
    the two expert targets and the ``k`` generated views, ``D`` the head's
    loss module (``2 - 2 cos`` in BYOL configs). The target network sees
    expert views only and is updated once per step, as in ``BYOL``.

    Args:
        backbone, neck, head, base_momentum, pretrained, data_preprocessor,
            init_cfg: as mmpretrain's ``BYOL``.
        alpha (float): >= 0. Defaults to 0.5.
        align_anchors (str): ``'all'`` or ``'first'``. Defaults to
            ``'all'``.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict,
                 base_momentum: float = 0.004, alpha: float = 0.5,
                 align_anchors: str = 'all',
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone=backbone, neck=neck, head=head,
            base_momentum=base_momentum, pretrained=pretrained,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._init_latent_a2(alpha, align_anchors)

    def loss(self, inputs: List[torch.Tensor], data_samples=None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_base`` (BYOL's loss) and ``loss_align``."""
        v1, v2, gens = split_views(inputs, type(self).__name__)
        online_v1 = self.neck(self.backbone(v1))[0]
        online_v2 = self.neck(self.backbone(v2))[0]
        online_g = self.neck(self.backbone(torch.cat(gens)))[0] \
            if gens else None
        with torch.no_grad():
            self.target_net.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            target_v1 = self.target_net(v1)[0]
            target_v2 = self.target_net(v2)[0]
        base = 2. * (self.head.loss(online_v1, target_v2)
                     + self.head.loss(online_v2, target_v1))
        return dict(loss_base=base, loss_align=self._latent_alignment(
            online_g, (target_v1, target_v2)))


@MODELS.register_module()
class A2MoCoV2(MoCo):
    """MoCo v2 with assimilated generated views (an extrapolation, §5.4).

    ``loss_base`` is MoCo's InfoNCE of the query ``q`` (view 1) against the
    key of view 2 and the queue; ``loss_align`` (added) is
    ``-(alpha / tau) * mean_i (1/k) sum_p q_i . sg(k_gen_p,i)``, with the
    generated keys from the momentum encoder (one shuffled batch of ``k N``
    after the view-2 keys). Generated keys are never enqueued: the queue
    and its pointer evolve exactly as in ``MoCo`` on ``[v1, v2]``.

    Args:
        backbone, neck, head, queue_len, feat_dim, momentum, pretrained,
            data_preprocessor, init_cfg: as mmpretrain's ``MoCo``.
        alpha (float): >= 0. Defaults to 0.5.
        temperature (float, optional): ``tau`` of the alignment term, > 0.
            Defaults to the head's temperature; must equal it when both are
            set.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict,
                 queue_len: int = 65536, feat_dim: int = 128,
                 momentum: float = 0.001, alpha: float = 0.5,
                 temperature: Optional[float] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone=backbone, neck=neck, head=head, queue_len=queue_len,
            feat_dim=feat_dim, momentum=momentum, pretrained=pretrained,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.alpha = _check_alpha(alpha)
        self.temperature = _resolve_temperature(temperature, self.head, None)

    @torch.no_grad()
    def _keys(self, x: torch.Tensor) -> torch.Tensor:
        x, idx_unshuffle = batch_shuffle_ddp(x)
        k = nn.functional.normalize(self.encoder_k(x)[0], dim=1)
        return batch_unshuffle_ddp(k, idx_unshuffle)

    def loss(self, inputs: List[torch.Tensor], data_samples=None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_base`` (MoCo's loss) and ``loss_align``."""
        v1, v2, gens = split_views(inputs, type(self).__name__)
        q = nn.functional.normalize(self.neck(self.backbone(v1))[0], dim=1)
        with torch.no_grad():
            self.encoder_k.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            k = self._keys(v2)
            k_gen = self._keys(torch.cat(gens)).view(
                len(gens), *k.shape) if gens else None
        l_pos = torch.einsum('nc,nc->n', [q, k]).unsqueeze(-1)
        l_neg = torch.einsum('nc,ck->nk', [q, self.queue.clone().detach()])
        loss = self.head.loss(l_pos, l_neg)
        align = alignment_term(q, None, k_gen, self.alpha, self.temperature,
                               anchors='first')
        self._dequeue_and_enqueue(k)
        return dict(loss_base=loss, loss_align=-align)
