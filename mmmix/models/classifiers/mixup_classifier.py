"""An ``ImageClassifier`` that mixes at a randomly chosen level each step."""
import copy
import math
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import broadcast, get_world_size
from mmengine.logging import print_log
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.models.heads import (
    LinearClsHead,
    StackedLinearClsHead,
    VisionTransformerClsHead,
)
from mmpretrain.structures import DataSample

from mmmix.registry import BATCH_AUGMENTS, MODELS

LEVELS = ('none', 'input', 'feature', 'embedding', 'logits', 'dense',
          'recon')
_MODE_KEYS = {'level', 'augment', 'stage'}


def _as_tuple(x) -> tuple:
    """Backbone / neck outputs as a tuple (they may be a bare tensor)."""
    return tuple(x) if isinstance(x, (tuple, list)) else (x, )


#: heads whose logits are ``fc(pre_logits(x))`` with a linear ``fc``
_AFFINE_LAST_FORWARDS = (LinearClsHead.forward, StackedLinearClsHead.forward,
                         VisionTransformerClsHead.forward)


def logits_are_affine(head) -> bool:
    """Whether a head's last operation is a linear layer.

    Then mixing its logits with weights summing to one equals mixing that
    layer's input (``pre_logits``). Decided by the head's ``forward``: a
    subclass that overrides it (e.g. a cosine classifier) is not trusted.
    """
    return getattr(type(head), 'forward', None) in _AFFINE_LAST_FORWARDS


def backbone_stages(backbone) -> List[str]:
    """Names of a backbone's stages, in order, for integer ``stage`` keys.

    Understands mmpretrain's ResNets (``res_layers``), mmmix's CIFAR nets
    and ViT-like models (``layers``: names or a ``ModuleList``) and
    ConvNeXt/Swin-like models (``stages``).
    """
    for attr in ('res_layers', 'layers', 'stages'):
        stages = getattr(backbone, attr, None)
        if isinstance(stages, (list, tuple)) and stages and all(
                isinstance(s, str) for s in stages):
            return list(stages)
        if isinstance(stages, torch.nn.ModuleList):
            return [f'{attr}.{i}' for i in range(len(stages))]
    return []


def resolve_stage(backbone, stage, field: str) -> str:
    """Module name of a backbone stage given by index (into
    :func:`backbone_stages`) or by module name; ``field`` names the config
    key in errors."""
    stages = backbone_stages(backbone)
    if isinstance(stage, int):
        if not -len(stages) <= stage < len(stages):
            raise ValueError(
                f'{field}={stage} is out of range for '
                f'{type(backbone).__name__}, whose stages are {stages} '
                f'(index in [{-len(stages)}, {len(stages) - 1}] or a module '
                'name)')
        return stages[stage]
    names = dict(backbone.named_modules())
    if not isinstance(stage, str) or stage not in names or not stage:
        children = [n for n, _ in backbone.named_children()]
        raise ValueError(
            f'{field}={stage!r} is not a module of {type(backbone).__name__};'
            f' its stages are {stages} (children: {children})')
    return stage


@MODELS.register_module()
class MixupClassifier(ImageClassifier):
    """Image classifier trained with mixup at a level drawn per iteration.

    Any mmpretrain ``ImageClassifier`` config switches to it by setting
    ``model.type='mmmix.MixupClassifier'`` and adding ``mix_modes``. Each
    training step draws one mode (with ``mix_probs``) and mixes there; the
    labels are mixed by the same augment with the same ``lam`` and
    permutation, and the head's loss gets them as soft scores
    (``gt_score``). Prediction and feature extraction are the parent's.

    Levels (``mix_modes[i].level``):

    * ``'none'``: no mixing (baseline; one-hot scores);
    * ``'input'``: ``augment`` (e.g. ``Mixup``, ``CutMix``) on the images;
    * ``'feature'``: ``augment`` (e.g. ``mmmix.AlignMix``, ``Mixup``) on a
      backbone feature map. Without ``stage`` it mixes the backbone's output
      before the neck (the last stage; for ``WideResNet`` after its final
      BN-ReLU); ``stage`` (an index into the backbone's stages or a module
      name such as ``'layer2'``) mixes that stage's output inside the
      backbone through a temporary forward hook (manifold mixup);
    * ``'embedding'``: ``augment`` (e.g. ``Mixup``) on the neck's output
      vector, before the head;
    * ``'logits'``: ``augment`` (e.g. ``mmmix.MultiMix``, which returns
      ``n`` mixed rows) on the head's logits; the head's loss module is
      applied to the mixed logits and targets. For a head whose last layer
      is linear (``LinearClsHead``, ``StackedLinearClsHead``,
      ``VisionTransformerClsHead``) this equals mixing that layer's input
      at ``O(b c n)`` cost. Any other head falls back (with a warning at
      build time) to mixing its input and running it on the mixed rows;
    * ``'dense'``: ``mmmix.DenseMultiMix`` on the backbone's last feature
      map with the head's linear ``fc`` applied at every position (needs a
      head with an ``fc`` layer and a global-average-pooling neck or none);
    * ``'recon'``: AlignMixup/AE's clean mode: the embedding of the clean
      images is decoded by ``decoder`` and ``recon_weight * MSE(x_hat, x)``
      is the only loss (on the normalised images the model sees).

    Feature-level augments that expose ``last_info`` (``AlignMix``) have it
    logged as ``mix_<name>`` (e.g. the transport plans' marginal error).

    In distributed training the mode index is broadcast from rank 0 so all
    ranks run the same mode (the permutation stays per GPU). With a
    ``'recon'`` mode the decoder is unused in the other steps: wrap the
    model with ``find_unused_parameters=True``.

    Args:
        backbone, neck, head, pretrained, data_preprocessor, init_cfg: as
            for ``ImageClassifier``. The head's loss must accept soft
            targets (``CrossEntropyLoss(use_soft=True)``) and the data
            preprocessor must not apply batch augments of its own.
        mix_modes (list[dict]): ``dict(level=..., augment=..., stage=...)``.
        mix_probs (list[float], optional): one probability per mode,
            summing to 1. Defaults to uniform.
        decoder (dict, optional): decoder for ``'recon'`` modes, mapping the
            embedding to an image of the input's shape.
        recon_weight (float): weight of the reconstruction loss.
        train_cfg (dict, optional): must not hold batch augments (mixing
            is configured by ``mix_modes``).
    """

    def __init__(self,
                 backbone: dict,
                 mix_modes: Sequence[dict],
                 mix_probs: Optional[Sequence[float]] = None,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 decoder: Optional[dict] = None,
                 recon_weight: float = 1.0,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if train_cfg and train_cfg.get('augments'):
            raise ValueError(
                'MixupClassifier: train_cfg.augments would mix a second time '
                'in the data preprocessor; configure mixing with mix_modes')
        super().__init__(backbone, neck=neck, head=head,
                         pretrained=pretrained,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if getattr(self.data_preprocessor, 'batch_augments', None):
            raise ValueError(
                'MixupClassifier: data_preprocessor.batch_augments would mix '
                'a second time; configure mixing with mix_modes')
        if not self.with_head:
            raise ValueError('MixupClassifier needs a head')
        self.decoder = MODELS.build(decoder) if isinstance(
            decoder, dict) else decoder
        if not recon_weight > 0:
            raise ValueError(
                f'MixupClassifier: recon_weight must be > 0, got '
                f'{recon_weight}')
        self.recon_weight = float(recon_weight)
        self.mix_modes = [self._build_mode(i, m)
                          for i, m in enumerate(mix_modes or [])]
        if not self.mix_modes:
            raise ValueError('MixupClassifier: mix_modes must list at least '
                             'one mode')
        self.mix_probs = self._check_probs(mix_probs, len(self.mix_modes))
        needs_soft = any(m['level'] != 'recon' for m in self.mix_modes)
        loss_module = getattr(self.head, 'loss_module', None)
        if needs_soft and getattr(loss_module, 'use_soft', True) is False:
            raise ValueError(
                'MixupClassifier: the head loss gets mixed (soft) targets; '
                'set head.loss=dict(type="CrossEntropyLoss", use_soft=True)')

    def _build_mode(self, i: int, mode: dict) -> dict:
        if not isinstance(mode, dict) or 'level' not in mode:
            raise ValueError(f'mix_modes[{i}] must be a dict with a level, '
                             f'got {mode!r}')
        unknown = set(mode) - _MODE_KEYS
        if unknown:
            raise ValueError(f'mix_modes[{i}]: unknown keys {sorted(unknown)}'
                             f'; valid keys are {sorted(_MODE_KEYS)}')
        level = mode['level']
        if level not in LEVELS:
            raise ValueError(f'mix_modes[{i}].level must be one of {LEVELS}, '
                             f'got {level!r}')
        built = dict(level=level, augment=None, stage=None,
                     exact_logits=True)
        if level == 'logits' and not logits_are_affine(self.head):
            built['exact_logits'] = False
            print_log(
                f"mix_modes[{i}] (level 'logits'): "
                f'{type(self.head).__name__} does not end with a linear '
                'layer, so its logits cannot be mixed exactly; mixing its '
                'input instead (one head pass per mixed row)',
                logger='current', level=30)
        if level in ('input', 'feature', 'embedding', 'logits', 'dense'):
            if mode.get('augment') is None:
                raise ValueError(f'mix_modes[{i}] (level {level!r}) needs an '
                                 'augment, e.g. dict(type="Mixup", '
                                 'alpha=1.0)')
            aug = mode['augment']
            built['augment'] = BATCH_AUGMENTS.build(copy.deepcopy(aug)) \
                if isinstance(aug, dict) else aug
        elif mode.get('augment') is not None:
            raise ValueError(f'mix_modes[{i}] (level {level!r}) takes no '
                             'augment')
        if mode.get('stage') is not None:
            if level != 'feature':
                raise ValueError(f'mix_modes[{i}].stage is only valid with '
                                 "level='feature'")
            built['stage'] = resolve_stage(self.backbone, mode['stage'],
                                           f'mix_modes[{i}].stage')
        if level == 'dense':
            if not hasattr(built['augment'], 'loss'):
                raise ValueError(f"mix_modes[{i}] (level 'dense') needs a "
                                 'dense mixing loss such as '
                                 'dict(type="mmmix.DenseMultiMix")')
            if not isinstance(getattr(self.head, 'fc', None), nn.Linear):
                raise ValueError(f"mix_modes[{i}] (level 'dense') needs a "
                                 'head with a linear fc layer (e.g. '
                                 'LinearClsHead)')
            if self.with_neck and type(self.neck).__name__ != \
                    'GlobalAveragePooling':
                raise ValueError(f"mix_modes[{i}] (level 'dense') needs a "
                                 'GlobalAveragePooling neck or none')
        if level == 'recon' and self.decoder is None:
            raise ValueError(f"mix_modes[{i}] is 'recon' but no decoder is "
                             'configured')
        return built

    @staticmethod
    def _check_probs(probs, n: int) -> np.ndarray:
        if probs is None:
            return np.full(n, 1.0 / n)
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (n, ):
            raise ValueError(f'mix_probs must have one value per mode ({n}),'
                             f' got {probs.tolist()}')
        if (probs < 0).any() or not math.isclose(
                probs.sum(), 1.0, abs_tol=1e-6):
            raise ValueError('mix_probs must be >= 0 and sum to 1, got '
                             f'{probs.tolist()} (sum {probs.sum():.6g})')
        return probs / probs.sum()

    def choose_mode(self, device=None) -> int:
        """Index of this step's mode (the same on every rank)."""
        idx = int(np.random.choice(len(self.mix_modes), p=self.mix_probs))
        if get_world_size() > 1:
            t = torch.tensor([idx], device=device)
            broadcast(t, src=0)
            idx = int(t.item())
        return idx

    def _scores(self, data_samples: List[DataSample],
                device) -> torch.Tensor:
        if all('gt_score' in s for s in data_samples):
            return torch.stack([s.gt_score for s in data_samples]).to(
                device).float()
        labels = torch.cat([s.gt_label for s in data_samples]).to(device)
        return F.one_hot(labels, self.head.num_classes).float()

    def _backbone_then_neck(self, inputs, mode, scores):
        """Feature-level mixing; returns (neck features, mixed scores)."""
        aug = mode['augment']
        if mode['stage'] is None:
            x = self.backbone(inputs)
            x = _as_tuple(x)
            mixed, mixed_scores = aug(x[-1], scores)
            x = x[:-1] + (mixed, )
            return (self.neck(x) if self.with_neck else x), mixed_scores
        box = {}

        def hook(module, args, output):
            if not isinstance(output, torch.Tensor):
                raise TypeError(f'stage {mode["stage"]!r} returns '
                                f'{type(output).__name__}, not a tensor')
            if 'scores' in box:
                raise RuntimeError(f'stage {mode["stage"]!r} ran twice in '
                                   'one forward; pick another stage')
            mixed, box['scores'] = aug(output, scores)
            return mixed

        handle = self.backbone.get_submodule(mode['stage']) \
            .register_forward_hook(hook)
        try:
            feats = self.extract_feat(inputs)
        finally:
            handle.remove()
        if 'scores' not in box:
            raise RuntimeError(f'stage {mode["stage"]!r} did not run')
        return feats, box['scores']

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Mixed-label loss at this step's level (or the recon loss)."""
        mode = self.mix_modes[self.choose_mode(inputs.device)]
        level, aug = mode['level'], mode['augment']
        if level == 'recon':
            emb = self.extract_feat(inputs)
            emb = _as_tuple(emb)[-1]
            recon = self.decoder(emb)
            if recon.shape != inputs.shape:
                raise ValueError(f'decoder output {tuple(recon.shape)} does '
                                 f'not match the input {tuple(inputs.shape)}')
            return dict(
                loss_recon=self.recon_weight * F.mse_loss(recon, inputs))
        scores = self._scores(data_samples, inputs.device)
        if level == 'none':
            feats, mixed_scores = self.extract_feat(inputs), scores
        elif level == 'input':
            mixed, mixed_scores = aug(inputs, scores)
            feats = self.extract_feat(mixed)
        elif level == 'feature':
            feats, mixed_scores = self._backbone_then_neck(
                inputs, mode, scores)
        elif level == 'logits':
            feats = self.extract_feat(inputs)
            if mode['exact_logits']:
                mixed, mixed_scores = aug(self.head(feats), scores)
            else:
                feats = _as_tuple(feats)
                emb, mixed_scores = aug(feats[-1], scores)
                mixed = self.head(feats[:-1] + (emb, ))
            loss = self.head.loss_module(
                mixed, mixed_scores, avg_factor=mixed.size(0))
            return dict(loss=loss)
        elif level == 'dense':
            x = self.backbone(inputs)
            x = _as_tuple(x)[-1]
            labels = scores.argmax(1)
            loss = aug.loss(x, scores, self.head.fc, labels)
            weight = getattr(self.head.loss_module, 'loss_weight', 1.0)
            return dict(loss=weight * loss)
        else:  # embedding
            feats = self.extract_feat(inputs)
            feats = _as_tuple(feats)
            mixed, mixed_scores = aug(feats[-1], scores)
            feats = feats[:-1] + (mixed, )
        # fresh samples: the caller's keep their labels (a second call on
        # the same batch must not mix already-mixed scores)
        # (MultiMix returns n != b rows: those carry no metainfo)
        metas = [s.metainfo for s in data_samples] \
            if len(mixed_scores) == len(data_samples) else \
            [{}] * len(mixed_scores)
        targets = [
            DataSample(metainfo=meta).set_gt_score(score)
            for meta, score in zip(metas, mixed_scores)
        ]
        losses = self.head.loss(feats, targets)
        for name, value in (getattr(aug, 'last_info', None) or {}).items():
            losses[f'mix_{name}'] = value
        return losses
