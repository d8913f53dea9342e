"""DINO: self-distillation with no labels (the base of DoRA)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.structures import DataSample

from mmmix.ops.dino import multicrop_pair_weights, split_views
from mmmix.registry import MODELS


def disable_stochastic_depth(module: nn.Module) -> int:
    """Set every drop-path / dropout probability in ``module`` to 0.

    Covers ``nn.Dropout``, drop-path modules (``drop_prob``) and the
    attention dropout mmpretrain's ``MultiheadAttention`` keeps as a float
    (``attn_drop``).

    DINO's teacher is built without stochastic depth; ``CosineEMA`` copies
    the student with its drop path, so the copy is switched off here (it
    stays in train mode, which a ResNet teacher needs for its batch
    statistics). Returns how many modules were changed.
    """
    changed = 0
    for m in module.modules():
        if isinstance(m, nn.Dropout) and m.p > 0:
            m.p, changed = 0., changed + 1
        elif hasattr(m, 'drop_prob') and getattr(m, 'drop_prob'):
            m.drop_prob, changed = 0., changed + 1
        if isinstance(getattr(m, 'attn_drop', None), float) and m.attn_drop:
            m.attn_drop, changed = 0., changed + 1
    return changed


def cls_features(feats) -> torch.Tensor:
    """Backbone / neck output -> ``(B, d)``.

    The last output of a tuple; ``(B, N, d)`` tokens give the [CLS] token,
    ``(B, C, H, W)`` maps are average-pooled.
    """
    if isinstance(feats, (tuple, list)):
        feats = feats[-1]
    if isinstance(feats, (tuple, list)):  # ViT 'cls_token'+'featmap' pairs
        feats = feats[-1]
    if feats.dim() == 3:
        return feats[:, 0]
    if feats.dim() == 4:
        return feats.mean(dim=(2, 3))
    return feats


@MODELS.register_module()
class DINO(BaseSelfSupervisor):
    """DINO (Caron et al., 2021) for mmpretrain.

    The student (backbone, optional neck, :class:`DINOHead`) is trained to
    match an EMA teacher (``target_net``, the same modules) across
    multi-crop views with :class:`DINOLoss`. The first
    ``num_global_views`` views of the pipeline are the global crops seen by
    the teacher; the student sees every view and each teacher view is paired
    with every other student view. Views of equal size go through the
    student in one forward (ViT positional embeddings are resized by the
    backbone for the smaller local crops).

    The teacher follows mmpretrain's ``CosineEMA`` (``base_momentum=0.004``,
    ``end_momentum=0``, i.e. DINO's 0.996 -> 1 cosine schedule), updated at
    the start of each ``loss()`` as in mmpretrain's BYOL. It runs without
    drop path (:func:`disable_stochastic_depth`). The loss centre and the
    teacher are parameters / buffers of this model, so they are saved in
    checkpoints and restored on resume.

    Args:
        backbone (dict): e.g. ``VisionTransformer(arch='deit-small')`` or a
            ResNet (add a ``GlobalAveragePooling`` neck).
        head (dict): :class:`DINOHead`.
        loss (dict): :class:`DINOLoss`.
        neck (dict, optional): between backbone and head.
        num_global_views (int): teacher views (the first views). Defaults
            to 2.
        base_momentum (float): teacher EMA momentum ``1 - alpha_0``.
            Defaults to 0.004.
        end_momentum (float): final momentum. Defaults to 0.
        feature_source (str): ``'teacher'`` (default, the network DINO
            evaluates) or ``'student'``: which backbone ``extract_feat``
            uses.
    """

    def __init__(self, backbone: dict, head: dict, loss: dict,
                 neck: Optional[dict] = None, num_global_views: int = 2,
                 base_momentum: float = 0.004, end_momentum: float = 0.,
                 feature_source: str = 'teacher',
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         pretrained=pretrained,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if num_global_views < 1:
            raise ValueError('num_global_views must be >= 1, got '
                             f'{num_global_views}')
        if feature_source not in ('teacher', 'student'):
            raise ValueError("feature_source must be 'teacher' or "
                             f"'student', got {feature_source!r}")
        if not 0 <= end_momentum <= base_momentum <= 1:
            raise ValueError('need 0 <= end_momentum <= base_momentum <= 1, '
                             f'got {end_momentum} and {base_momentum}')
        self.dino_loss = MODELS.build(loss)
        self.num_global_views = num_global_views
        self.feature_source = feature_source
        self.target_net = CosineEMA(
            self._student_net(), momentum=base_momentum,
            end_momentum=end_momentum)
        disable_stochastic_depth(self.target_net)

    def init_weights(self) -> None:
        """Initialise the student, then start the teacher as its copy."""
        super().init_weights()
        with torch.no_grad():
            teacher = self.target_net.module.state_dict()
            for k, v in self._student_net().state_dict().items():
                teacher[k].copy_(v)

    def _student_net(self) -> nn.Sequential:
        mods = [self.backbone] + ([self.neck] if self.with_neck else [])
        return nn.Sequential(*mods, self.head)

    @property
    def teacher_backbone(self) -> nn.Module:
        """The teacher's backbone (``target_net.module.0``)."""
        return self.target_net.module[0]

    @staticmethod
    def _embed(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        """Features -> ``(B, d)`` -> head logits through ``net``."""
        feats = net[0](x)
        if len(net) == 3:
            feats = net[1](feats)
        return net[-1](cls_features(feats))

    def student_logits(self, views: Sequence[torch.Tensor]) -> torch.Tensor:
        """``(V, B, K)`` logits of views of equal batch size.

        Consecutive views of one spatial size share one forward.
        """
        net = self._student_net()
        out = []
        for start, end in split_views(views):
            x = torch.cat(list(views[start:end]))
            out.extend(self._embed(net, x).chunk(end - start))
        return torch.stack(out)

    @torch.no_grad()
    def teacher_logits(self, views: Sequence[torch.Tensor]) -> torch.Tensor:
        """``(V, B, K)`` teacher logits (no grad)."""
        x = torch.cat(list(views))
        return torch.stack(
            self._embed(self.target_net.module, x).chunk(len(views)))

    def update_teacher(self) -> None:
        """One EMA step of the teacher towards the student."""
        with torch.no_grad():
            self.target_net.update_parameters(self._student_net())

    def extract_feat(self, inputs: torch.Tensor,
                     **kwargs) -> Tuple[torch.Tensor]:
        """``(B, d)`` [CLS] / pooled features of ``feature_source``."""
        backbone = self.teacher_backbone \
            if self.feature_source == 'teacher' else self.backbone
        feats = backbone(inputs)
        if self.with_neck:
            neck = self.target_net.module[1] \
                if self.feature_source == 'teacher' else self.neck
            feats = neck(feats)
        return (cls_features(feats), )

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """DINO loss of a multi-crop batch ``[global..., local...]``."""
        if not isinstance(inputs, (list, tuple)) or \
                len(inputs) <= self.num_global_views:
            raise ValueError(
                f'DINO needs more than num_global_views='
                f'{self.num_global_views} views per sample, got '
                f'{len(inputs) if isinstance(inputs, (list, tuple)) else 1}'
                ': use a MultiView pipeline')
        g = self.num_global_views
        self.update_teacher()
        t_logits = self.teacher_logits(inputs[:g])
        s_logits = self.student_logits(inputs)
        weights = multicrop_pair_weights(g, len(inputs),
                                         device=s_logits.device)
        loss, probs = self.dino_loss(t_logits, s_logits, weights,
                                     return_probs=True)
        return dict(loss=loss, **teacher_stats(probs))


@torch.no_grad()
def teacher_stats(probs: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Collapse monitors of teacher distributions ``(..., K)``.

    ``teacher_entropy``: mean entropy of the rows (0 when every row is
    one-hot); ``teacher_mean_entropy``: entropy of the mean distribution
    (0 when every row picks the same prototype, ``log K`` when they spread
    over all of them).
    """
    p = probs.reshape(-1, probs.shape[-1]).float()
    ent = -(p * p.clamp_min(1e-12).log()).sum(-1).mean()
    mean = p.mean(0)
    mean_ent = -(mean * mean.clamp_min(1e-12).log()).sum()
    return dict(teacher_entropy=ent, teacher_mean_entropy=mean_ent)
