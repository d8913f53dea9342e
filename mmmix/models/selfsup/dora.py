"""DoRA: DINO with multi-object discovery and tracking (thesis ch. 6)."""
from typing import Dict, List, Tuple

import torch
from mmpretrain.structures import DataSample

from mmmix.ops.dino import dora_pair_weights
from mmmix.ops.object_tracking import (
    MASK_MODES,
    PLAN_SCALES,
    concat_heads,
    discover_prototypes,
    object_masks,
    random_block_masks,
    refine_prototypes,
    sample_heads,
    track_objects,
)
from mmmix.registry import MODELS

from ..utils.attention_tap import LastBlockAttentionTap
from .dino import DINO, teacher_stats

DORA_MASK_MODES = MASK_MODES + ('random_blockwise', )


@MODELS.register_module()
class DoRA(DINO):
    """DoRA (Venkataramanan et al., ICLR 2024): DINO on video clips whose
    student sees multi-object crops tracked by the teacher's attention.

    Per clip, on the teacher (no grad, float32): the [CLS] attention rows of
    ``num_objects`` random heads of the last block pool the patch queries of
    the first frame into object prototypes (Eq. 6.2); Sinkhorn-Knopp between
    the prototypes and the first frame's patch outputs refines them (Eq.
    6.4-6.5, ``use_sk``); their cross-attention with the last-block patch
    keys of every frame tracks the objects (Eq. 6.6); the maps become masks
    of the (normalised) global views, one masked view per object and frame
    (Eq. 6.7). The student gets the masked views instead of the global
    crops and the local crops as in DINO; the loss pairs each teacher view
    of a frame with the masked views (of the other global view with two
    views, of the same one with one) and the local crops of that frame
    (Eq. 6.8-6.10, :func:`mmmix.ops.dora_pair_weights`).

    Inputs are views ``[global_1, (global_2), local_1, ...]`` of clips
    ``(B, T, C, H, W)`` (:class:`mmmix.VideoSelfSupDataPreprocessor`) or of
    images ``(B, C, H, W)``: images are clips of one frame, which is DoRA*
    (discovery without tracking, the keys of the same image).

    The last-block attention is recomputed from a forward pre-hook on the
    teacher (:class:`mmmix.models.utils.LastBlockAttentionTap`); the
    backbone is unchanged and must be mmpretrain's ``VisionTransformer``
    with ``out_type='raw'`` (all tokens, for the patch outputs).

    Args:
        num_objects (int): ``k`` objects (heads drawn, <= the heads of the
            last block). 0: no masking, the student sees the global crops
            (the DINO-on-clips baseline of spec A10). Defaults to 3.
        num_global_views (int): 1 (the released code, default) or 2 (the
            thesis' Eq. 6.8).
        use_sk (bool): refine the prototypes with Sinkhorn-Knopp (Eq. 6.6)
            or track with the raw ones (Eq. 6.3). Defaults to True.
        sk_eps (float): entropic regularisation. Defaults to 0.05.
        sk_iters (int): Sinkhorn-Knopp iterations. Defaults to 30.
        normalize_patches (bool): L2-normalise the patch outputs before
            Sinkhorn-Knopp (the code; the thesis uses them raw).
        plan_scale (str): ``'n'`` (the code: ``P' = n M* Z``) or ``'none'``.
        mask_mode (str): ``'binary_sample_mean'`` (default),
            ``'binary_batch_mean'`` (the code's per-GPU threshold),
            ``'soft'`` or ``'random_blockwise'`` (Table 6.7c's ablation).
        keep_argmax (bool): an object's mask keeps at least its arg-max
            patch (no all-mean-colour view). Defaults to True.
        head_sampling (str): ``'batch'`` (one head subset per iteration, the
            code) or ``'sample'``; shared by the global views either way.
        loss_mode (str): ``'clean'``, ``'thesis_sum'`` or ``'legacy_code'``.
        **kwargs: :class:`DINO`'s arguments (``backbone``, ``head``,
            ``loss``, momentum, ...).
    """

    def __init__(self, *args, num_objects: int = 3,
                 num_global_views: int = 1, use_sk: bool = True,
                 sk_eps: float = 0.05, sk_iters: int = 30,
                 normalize_patches: bool = True, plan_scale: str = 'n',
                 mask_mode: str = 'binary_sample_mean',
                 keep_argmax: bool = True, head_sampling: str = 'batch',
                 loss_mode: str = 'clean', **kwargs) -> None:
        super().__init__(*args, num_global_views=num_global_views, **kwargs)
        if num_global_views not in (1, 2):
            raise ValueError('DoRA: num_global_views must be 1 or 2, got '
                             f'{num_global_views}')
        if getattr(self.backbone, 'out_type', None) != 'raw':
            raise ValueError(
                "DoRA needs a VisionTransformer with out_type='raw' (all "
                'tokens: the patch outputs feed Sinkhorn-Knopp), got '
                f"{type(self.backbone).__name__} with out_type="
                f"{getattr(self.backbone, 'out_type', None)!r}")
        if not getattr(self.backbone, 'with_cls_token', False):
            raise ValueError('DoRA needs a ViT with a [CLS] token '
                             '(with_cls_token=True): its attention row '
                             'discovers the objects')
        self._tap = LastBlockAttentionTap(self.teacher_backbone,
                                          register=False)
        num_heads = self._tap.module.num_heads
        if not 0 <= num_objects <= num_heads:
            raise ValueError(
                f'num_objects must be in [0, {num_heads}] (the heads of the '
                f'last block), got {num_objects}')
        if mask_mode not in DORA_MASK_MODES:
            raise ValueError(f'mask_mode must be one of {DORA_MASK_MODES}, '
                             f'got {mask_mode!r}')
        if plan_scale not in PLAN_SCALES:
            raise ValueError(f'plan_scale must be one of {PLAN_SCALES}, got '
                             f'{plan_scale!r}')
        if head_sampling not in ('batch', 'sample'):
            raise ValueError("head_sampling must be 'batch' or 'sample', "
                             f'got {head_sampling!r}')
        if not sk_eps > 0 or sk_iters < 1:
            raise ValueError('need sk_eps > 0 and sk_iters >= 1, got '
                             f'{sk_eps} and {sk_iters}')
        dora_pair_weights(num_global_views, max(num_objects, 1), 2,
                          loss_mode, 2)  # validates loss_mode
        self.num_objects = num_objects
        self.use_sk = use_sk
        self.sk_eps = sk_eps
        self.sk_iters = sk_iters
        self.normalize_patches = normalize_patches
        self.plan_scale = plan_scale
        self.mask_mode = mask_mode
        self.keep_argmax = keep_argmax
        self.head_sampling = head_sampling
        self.loss_mode = loss_mode
        self.patch_size = self.backbone.patch_embed.projection.stride

    # ------------------------------------------------------------ teacher
    @torch.no_grad()
    def _teacher(self, x: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher tokens ``(R, N, d)`` and logits ``(R, K)``; the tap holds
        the last block's queries, keys and [CLS] attention."""
        with self._tap:
            tokens = self.teacher_backbone(x)[-1]
        return tokens, self.target_net.module[-1](tokens[:, 0])

    @torch.no_grad()
    def object_masks(self, tokens: torch.Tensor, num_views: int, batch: int,
                     frames: int, size: Tuple[int, int]
                     ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Masks ``(V, B, T, k, 1, H, W)`` of the teacher pass just run.

        ``tokens`` ``(V B T, N, d)`` are the teacher outputs of the global
        views (rows ordered view, clip, frame); the tap holds their
        last-block ``q``, ``k`` and [CLS] attention.
        """
        v, b, t, k = num_views, batch, frames, self.num_objects
        grid = (size[0] // self.patch_size[0], size[1] // self.patch_size[1])
        n = grid[0] * grid[1]
        if tokens.shape[1] != n + 1:
            raise ValueError(f'{tokens.shape[1]} tokens for a {grid} patch '
                             'grid: DoRA needs exactly one [CLS] token')
        if self.mask_mode == 'random_blockwise':
            masks = random_block_masks(v * b * t, k, grid, self.patch_size[0],
                                       device=tokens.device)
            masks = masks.view(v, b, t, k, 1, *masks.shape[-2:])
            return masks, dict(mask_coverage=masks.mean())
        tap = self._tap
        h = tap.q.shape[1]
        first = torch.arange(v * b, device=tokens.device) * t  # frame 0
        if self.head_sampling == 'batch':
            heads = sample_heads(h, k, device=tokens.device)
        else:
            heads = sample_heads(h, k, batch=b, device=tokens.device)
            heads = heads.repeat(v, 1)  # the views of a clip share them
        protos = discover_prototypes(tap.cls_attn[first, :, 1:],
                                     tap.q[first, :, 1:], heads)
        if self.use_sk:
            protos, _ = refine_prototypes(
                protos, tokens[first, 1:], eps=self.sk_eps,
                num_iters=self.sk_iters,
                normalize_patches=self.normalize_patches,
                plan_scale=self.plan_scale)
        keys = concat_heads(tap.k[:, :, 1:]).reshape(v * b, t, n, -1)
        track = track_objects(protos, keys)  # (V B, T, k, n)
        mode = self.mask_mode
        if mode == 'binary_batch_mean' and v > 1:
            # the code thresholds over its per-GPU batch of one view
            track = track.reshape(v, b, t, k, n).transpose(0, 1)
            track = track.reshape(b, v * t, k, n)
            masks, stats = object_masks(track, grid, self.patch_size[0],
                                        mode, self.keep_argmax)
            masks = masks.reshape(b, v, t, k, 1, *masks.shape[-2:])
            masks = masks.transpose(0, 1)
        else:
            masks, stats = object_masks(track, grid, self.patch_size[0],
                                        mode, self.keep_argmax)
        masks = masks.reshape(v, b, t, k, 1, *masks.shape[-2:])
        return masks, {f'mask_{key}': val for key, val in stats.items()}

    # --------------------------------------------------------------- loss
    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """DoRA loss of clip (or image) views ``[global..., local...]``."""
        g = self.num_global_views
        if not isinstance(inputs, (list, tuple)) or len(inputs) < g:
            raise ValueError(f'DoRA needs at least num_global_views={g} '
                             'views per sample: use a multi-view pipeline')
        views = [x if x.dim() == 5 else x.unsqueeze(1) for x in inputs]
        b, t = views[0].shape[:2]
        for x in views:
            if x.shape[:2] != (b, t):
                raise ValueError('every view needs the same (batch, frames), '
                                 f'got {tuple(x.shape[:2])} and {(b, t)}')
        size = tuple(views[0].shape[-2:])
        if any(tuple(x.shape[-3:]) != tuple(views[0].shape[-3:])
               for x in views[:g]):
            raise ValueError('the global views must have one size, got '
                             f'{[tuple(x.shape[-2:]) for x in views[:g]]}')
        glob = torch.stack(views[:g])  # (g, B, T, C, H, W)
        local = [x.flatten(0, 1) for x in views[g:]]  # (B T, C, h, w)

        self.update_teacher()
        tokens, t_logits = self._teacher(glob.flatten(0, 2))
        stats = {}
        if self.num_objects > 0:
            masks, stats = self.object_masks(tokens, g, b, t, size)
            # built directly in the student's order, (g, k, B, T, C, H, W):
            # masked view (v, i), rows (b, t); the views below are slices
            masked = glob.unsqueeze(1) * masks.permute(
                0, 3, 1, 2, 4, 5, 6).to(glob.dtype)
            student_views = list(masked.flatten(0, 1).flatten(1, 2))
            k = self.num_objects
        else:
            student_views = list(glob.flatten(1, 2))
            k = 1
        s_logits = self.student_logits(student_views + local)
        weights = dora_pair_weights(g, k, len(local), self.loss_mode, t,
                                    device=s_logits.device)
        t_logits = t_logits.view(g, b * t, -1)
        loss, probs = self.dino_loss(t_logits, s_logits, weights,
                                     return_probs=True)
        return dict(loss=loss, **teacher_stats(probs), **stats)
