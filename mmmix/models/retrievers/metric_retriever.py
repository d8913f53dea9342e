"""Deep-metric-learning model trained with Metrix at a chosen level."""
import copy
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import broadcast, get_world_size
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from mmmix.models.classifiers.mixup_classifier import resolve_stage
from mmmix.ops.metrix import mix
from mmmix.registry import MODELS

LEVELS = ('none', 'input', 'feature', 'embedding')


@MODELS.register_module()
class MetricRetriever(BaseModel):
    """Backbone -> DML neck -> unit-norm embedding, trained with
    :class:`~mmmix.models.MetrixLoss`.

    Each training step draws one of ``mix_modes`` (uniformly, or with
    ``mix_probs``; the same on every rank) and builds the mixed examples
    there (thesis eq. 4.4); anchors are always the clean embeddings:

    * ``'none'``: the clean loss only (the baseline);
    * ``'input'``: images ``lam x_i + (1 - lam) x_j`` go through the whole
      network. Only the pairs the anchors use are forwarded, so ``hard_k``
      (3 in the thesis) is required;
    * ``'feature'``: the backbone's last feature map is mixed and goes
      through the neck, or, with ``stage`` (an index into the backbone's
      stages or a module name such as ``'layer3'``), that stage's output is
      mixed and goes through the rest of the network (chunk by chunk, each
      chunk re-running the earlier layers on its constituents only). A neck
      with ``forward_mixed``
      (:class:`~mmmix.models.AvgMaxPoolLinearL2Neck`) never materialises
      the ``K`` mixed maps; others get them in chunks of ``chunk_size``;
    * ``'embedding'``: the embeddings are mixed (re-normalised by the
      loss's distance).

    ``predict`` sets ``embedding`` on each data sample;
    ``forward(mode='tensor')`` returns the ``(B, d)`` embeddings.

    Args:
        backbone (dict): e.g. mmpretrain ``ResNet`` with ``norm_eval=True``
            (BN frozen, as the Metrix code trains; mixed batches then leave
            the statistics alone).
        neck (dict): maps the last feature map to unit-norm embeddings.
        loss (dict): a :class:`~mmmix.models.MetrixLoss` config.
        mix_modes (list[dict]): ``dict(level=..., hard_k=None)``, plus
            ``stage`` for ``level='feature'``.
        mix_probs (list[float], optional): one per mode; uniform by default.
        chunk_size (int): mixed feature maps per neck call without
            ``forward_mixed``.
    """

    def __init__(self, backbone: dict, neck: dict, loss: dict,
                 mix_modes: Sequence[dict] = (dict(level='feature'), ),
                 mix_probs: Optional[Sequence[float]] = None,
                 chunk_size: int = 512,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClsDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        loss = copy.deepcopy(loss)
        loss.setdefault('type', 'mmmix.MetrixLoss')
        self.loss_module = MODELS.build(loss)
        self.mix_modes = [self._check_mode(i, m)
                          for i, m in enumerate(mix_modes)]
        for i, mode in enumerate(self.mix_modes):
            if mode['stage'] is not None:
                mode['stage'] = resolve_stage(self.backbone, mode['stage'],
                                              f'mix_modes[{i}].stage')
        if not self.mix_modes:
            raise ValueError('MetricRetriever: mix_modes must list at least '
                             'one mode')
        n = len(self.mix_modes)
        probs = np.full(n, 1 / n) if mix_probs is None else np.asarray(
            mix_probs, dtype=np.float64)
        if probs.shape != (n, ) or (probs < 0).any() or not np.isclose(
                probs.sum(), 1):
            raise ValueError('MetricRetriever: mix_probs must hold one '
                             f'probability >= 0 per mode ({n}) summing to 1,'
                             f' got {mix_probs}')
        self.mix_probs = probs / probs.sum()
        if chunk_size < 1:
            raise ValueError(f'MetricRetriever: chunk_size must be >= 1, got '
                             f'{chunk_size}')
        self.chunk_size = chunk_size

    @staticmethod
    def _check_mode(i: int, mode: dict) -> dict:
        if not isinstance(mode, dict) or mode.get('level') not in LEVELS:
            raise ValueError(f'mix_modes[{i}] must be dict(level=...) with a '
                             f'level in {LEVELS}, got {mode!r}')
        unknown = set(mode) - {'level', 'hard_k', 'stage'}
        if unknown:
            raise ValueError(f'mix_modes[{i}]: unknown keys {sorted(unknown)}'
                             "; valid keys are ['hard_k', 'level', 'stage']")
        if mode.get('stage') is not None and mode['level'] != 'feature':
            raise ValueError(f'mix_modes[{i}].stage is only valid with '
                             "level='feature'")
        hard_k = mode.get('hard_k')
        if hard_k is not None and (not isinstance(hard_k, int) or hard_k < 1):
            raise ValueError(f'mix_modes[{i}].hard_k must be None or an '
                             f'integer >= 1, got {hard_k!r}')
        if mode['level'] == 'input' and hard_k is None:
            raise ValueError(
                f"mix_modes[{i}] (level 'input') forwards every mixed image: "
                'set hard_k (the thesis uses 3)')
        if mode['level'] == 'none' and hard_k is not None:
            raise ValueError(f"mix_modes[{i}] (level 'none') takes no hard_k")
        return dict(level=mode['level'], hard_k=hard_k,
                    stage=mode.get('stage'))

    def choose_mode(self, device=None) -> dict:
        idx = int(np.random.choice(len(self.mix_modes), p=self.mix_probs))
        if get_world_size() > 1:
            t = torch.tensor([idx], device=device)
            broadcast(t, src=0)
            idx = int(t.item())
        return self.mix_modes[idx]

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings ``(B, d)``."""
        return self.neck(self.backbone(inputs))[-1]

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'tensor':
            return self.extract_feat(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            inputs.device)
        mode = self.choose_mode(inputs.device)
        level, hard_k = mode['level'], mode['hard_k']
        feats = self.backbone(inputs)
        emb = self.neck(feats)[-1]
        if level == 'none':
            return dict(loss_clean=self.loss_module.clean(emb, labels))
        mix_fn = None
        if level == 'input':
            def mix_fn(i, j, lam):
                return self._chunked(lambda ic, jc, lc: self.extract_feat(
                    mix(inputs, ic, jc, lc)), i, j, lam)
        elif level == 'feature' and mode['stage'] is not None:
            def mix_fn(i, j, lam):
                return self._chunked(
                    lambda ic, jc, lc: self._embed_stage_mixes(
                        inputs, mode['stage'], ic, jc, lc), i, j, lam)
        elif level == 'feature':
            last = feats[-1] if isinstance(feats, (tuple, list)) else feats
            if hasattr(self.neck, 'forward_mixed'):
                def mix_fn(i, j, lam):
                    return self.neck.forward_mixed(last, i, j, lam)
            else:
                def mix_fn(i, j, lam):
                    return self._chunked(lambda ic, jc, lc: self.neck(
                        (mix(last, ic, jc, lc), ))[-1], i, j, lam)
        losses = self.loss_module(emb, labels, mix_fn, hard_k)
        for name, value in self.loss_module.last_info.items():
            losses[f'mix_{name}'] = torch.as_tensor(value)
        return losses

    def _chunked(self, fn, i_idx, j_idx, lam) -> torch.Tensor:
        """``fn(i, j, lam)`` over chunks of ``chunk_size`` mixes."""
        lam = torch.as_tensor(lam, device=i_idx.device)
        out = []
        for start in range(0, len(i_idx), self.chunk_size):
            sl = slice(start, start + self.chunk_size)
            out.append(fn(i_idx[sl], j_idx[sl],
                          lam if lam.dim() == 0 else lam[sl]))
        return torch.cat(out)

    def _embed_stage_mixes(self, inputs, stage, i_idx, j_idx, lam):
        """Embeddings of ``lam g(x_i) + (1 - lam) g(x_j)`` where ``g`` ends
        at backbone module ``stage``, through the rest of the network (the
        earlier layers run on the constituents only)."""
        used, inv = torch.unique(torch.cat([i_idx, j_idx]),
                                 return_inverse=True)
        ii, jj = inv[:len(i_idx)], inv[len(i_idx):]
        handle = self.backbone.get_submodule(stage).register_forward_hook(
            lambda mod, args, output: mix(output, ii, jj, lam))
        try:
            return self.extract_feat(inputs[used])
        finally:
            handle.remove()

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None):
        emb = self.extract_feat(inputs)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(len(emb))]
        for sample, e in zip(data_samples, emb):
            sample.set_field(e, 'embedding')
        return data_samples
