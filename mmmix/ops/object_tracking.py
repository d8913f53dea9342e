"""DoRA's multi-object discovery, tracking and masking (thesis ch. 6).

Pure tensor maths for the teacher side of DoRA (Venkataramanan et al.,
ICLR 2024, "Is ImageNet worth 1 video?"), per sample and batched:

* :func:`sample_heads`: the random subset ``I`` of ``k`` attention heads;
* :func:`discover_prototypes`: Eq. 6.2, ``P = A^I Q~`` (``k`` object
  prototypes from the [CLS] attention rows of the chosen heads);
* :func:`refine_prototypes`: Eq. 6.4-6.5, Sinkhorn-Knopp between the
  prototypes and the patch output features, ``P' = M* Z``;
* :func:`track_objects`: Eq. 6.6 (Eq. 6.3 with unrefined ``P``),
  ``T'_t = softmax(P' K~_t^T / sqrt(d))`` for every frame;
* :func:`object_masks`: Eq. 6.7's masks, binary (official code) or soft,
  upsampled to pixels;
* :func:`random_block_masks`: iBOT/BEiT block masks (the
  ``mask_mode='random_blockwise'`` ablation of Table 6.7c).

All but :func:`random_block_masks` run on any device without host
synchronisation or Python loops over batch, frames or objects, take no
gradient, and compute in float32 (float64 when an input is float64) with
autocast disabled, whatever the input dtype: the official code's fp16
similarities and plain ``exp`` can underflow a whole prototype row and give
NaN (spec A24), the log-domain Sinkhorn here cannot.

Typical teacher pass on ``B`` clips of ``T`` frames (``q``, ``k``
``(B*T, h, N, dh)`` and the [CLS] row ``a`` ``(B*T, h, N)`` from
:class:`mmmix.models.utils.LastBlockAttentionTap`, output tokens ``z``
``(B*T, N, d)``; ``[::T]`` picks the first frame of every clip)::

    heads = sample_heads(h, 3)
    protos = discover_prototypes(a[::T, :, 1:], q[::T, :, 1:], heads)
    protos, plan = refine_prototypes(protos, z[::T, 1:])
    keys = concat_heads(k[:, :, 1:]).view(B, T, n, d)
    track = track_objects(protos, keys)                  # (B, T, k, n)
    masks, stats = object_masks(track, (gh, gw), p)      # (B,T,k,1,H,W)
"""
import contextlib
import math
import numbers
import random
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from .sinkhorn import sinkhorn_log

MASK_MODES = ('binary_batch_mean', 'binary_sample_mean', 'soft')
PLAN_SCALES = ('n', 'none')
# A patch is on when its map value exceeds the threshold by this relative
# margin: a constant row (whose float mean may round a hair below its
# entries) then gives an empty mask on every device, as in exact maths.
_TIE_RTOL = 1e-5


def _compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float64 if any input is float64, else float32 (fp16/bf16 too)."""
    if any(t.dtype == torch.float64 for t in tensors):
        return torch.float64
    return torch.float32


def _no_autocast(device: torch.device):
    """A context that disables autocast on ``device`` (no-op if unknown)."""
    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except RuntimeError:  # device type without autocast support
        return contextlib.nullcontext()


def _check_shape(name: str, x: torch.Tensor, dim: int, desc: str):
    if x.dim() != dim:
        raise ValueError(f'{name} must be {desc}, got {tuple(x.shape)}')


def concat_heads(x: torch.Tensor) -> torch.Tensor:
    """Concatenate attention heads: ``(..., h, n, dh) -> (..., n, h*dh)``.

    Head-major, i.e. the layout of ``qkv.reshape(B, N, 3, h, dh)``: entry
    ``[..., j, i*dh:(i+1)*dh]`` is head ``i`` of token ``j``, so
    ``concat_heads(q)`` equals the query third of the ``qkv`` projection
    (``rearrange('h n dh -> n (h dh)')`` of the official code).
    """
    if x.dim() < 3:
        raise ValueError(f'expected (..., h, n, dh), got {tuple(x.shape)}')
    h, n, dh = x.shape[-3:]
    return x.transpose(-3, -2).reshape(*x.shape[:-3], n, h * dh)


def sample_heads(num_heads: int,
                 k: int,
                 generator: Optional[torch.Generator] = None,
                 batch: Optional[int] = None,
                 device=None) -> torch.Tensor:
    """Draw ``k`` distinct attention heads uniformly without replacement.

    The head subset ``I`` of thesis Sec. 6.3 (Eq. 6.2). The official code
    draws once per iteration for the whole batch (``random.sample(range(h),
    3)``); ``batch`` draws one subset per sample instead (spec A18). The
    draw order is kept (object ``j`` comes from head ``I[j]``).

    Args:
        num_heads (int): Number of heads ``h`` of the last block.
        k (int): Number of objects, ``1 <= k <= h``.
        generator (torch.Generator, optional): Source of randomness (on the
            CPU or on ``device``); torch's global RNG when None.
        batch (int, optional): Draw a separate subset per sample.
        device (optional): Device of the result. Defaults to the
            generator's device (CPU without a generator).

    Returns:
        LongTensor: ``(k,)``, or ``(batch, k)`` when ``batch`` is given.
    """
    if not isinstance(k, numbers.Integral) or not 1 <= k <= num_heads:
        raise ValueError(f'k (number of objects) must be in [1, num_heads]:'
                         f' got k={k}, num_heads={num_heads}')
    k = int(k)
    draw_device = generator.device if generator is not None else (
        torch.device(device) if device is not None else torch.device('cpu'))
    if batch is None:
        heads = torch.randperm(num_heads, generator=generator,
                               device=draw_device)[:k]
    else:
        if not isinstance(batch, numbers.Integral) or batch < 1:
            raise ValueError(f'batch must be a positive int, got {batch}')
        batch = int(batch)
        # argsort of i.i.d. uniforms = a uniform random permutation per row
        keys = torch.rand(batch, num_heads, generator=generator,
                          device=draw_device)
        heads = keys.argsort(dim=1)[:, :k]
    return heads.to(device) if device is not None else heads


@torch.no_grad()
def discover_prototypes(cls_attn: torch.Tensor, q_patches: torch.Tensor,
                        heads: torch.Tensor) -> torch.Tensor:
    """Object prototypes from multi-head attention (thesis Eq. 6.1-6.2).

    ``P = A^I Q~``: the [CLS] attention rows of the heads ``I`` pool the
    patch queries with all heads concatenated (head-major, see
    :func:`concat_heads`), as the official ``einsum('bkn,bnd->bkd')``.
    The rows are used as they are: they exclude the [CLS]->[CLS] entry and
    are not renormalised (spec A12).

    Args:
        cls_attn (Tensor): ``(B, h, n)``: ``A[:, :, 0, 1:]``, the [CLS] row
            of each head's last-layer attention over the ``n`` patches.
        q_patches (Tensor): ``(B, h, n, dh)``: patch queries
            ``q[:, :, 1:]`` of the same layer.
        heads (Tensor): ``(k,)`` (one subset for the batch) or ``(B, k)``
            head indices, e.g. from :func:`sample_heads`.

    Returns:
        Tensor: ``P`` ``(B, k, d)`` with ``d = h * dh``, float32 (float64
        for float64 inputs).
    """
    _check_shape('cls_attn', cls_attn, 3, '(B, h, n)')
    _check_shape('q_patches', q_patches, 4, '(B, h, n, dh)')
    if q_patches.shape[:3] != cls_attn.shape:
        raise ValueError(f'q_patches {tuple(q_patches.shape)} does not '
                         f'match cls_attn {tuple(cls_attn.shape)}')
    nb, _, n = cls_attn.shape
    dtype = _compute_dtype(cls_attn, q_patches)
    heads = heads.to(device=cls_attn.device, dtype=torch.long)
    with _no_autocast(cls_attn.device):
        attn = cls_attn.to(dtype)
        if heads.dim() == 1:
            attn_sel = attn.index_select(1, heads)  # (B, k, n)
        elif heads.dim() == 2 and heads.shape[0] == nb:
            attn_sel = attn.gather(
                1, heads[:, :, None].expand(-1, -1, n))
        else:
            raise ValueError(f'heads must be (k,) or (B={nb}, k), got '
                             f'{tuple(heads.shape)}')
        q_cat = concat_heads(q_patches.to(dtype))  # (B, n, d)
        return torch.bmm(attn_sel, q_cat)


@torch.no_grad()
def refine_prototypes(
        protos: torch.Tensor,
        patch_feats: torch.Tensor,
        eps: float = 0.05,
        num_iters: int = 30,
        normalize_patches: bool = True,
        plan_scale: str = 'n') -> Tuple[torch.Tensor, torch.Tensor]:
    """Refine prototypes with Sinkhorn-Knopp (thesis Eq. 6.4-6.5).

    ``S = P Z^T`` ``(B, k, n)``, then the entropic OT plan ``M*`` of cost
    ``-S`` with uniform marginals (rows ``1/k``, columns ``1/n``), by
    ``num_iters`` log-domain iterations of
    :func:`mmmix.ops.sinkhorn_log` (rows then columns, as the official
    ``SinkhornKnopp``: the columns are exact, the rows approximate), then
    ``P' = M* Z``.

    Official-code numerics are the default (spec A3): ``Z`` is the
    row-L2-normalised patch output (``P`` is not normalised) and the plan is
    scaled by ``n`` (``P' = (n M*) Z``: columns of ``n M*`` sum to 1). The
    thesis: ``normalize_patches=False, plan_scale='none'``.

    Args:
        protos (Tensor): ``P`` ``(B, k, d)`` (:func:`discover_prototypes`).
        patch_feats (Tensor): ``(B, n, d)`` teacher output patch tokens of
            the first frame (final norm applied, [CLS] dropped).
        eps (float): Entropic regularisation. Defaults to 0.05.
        num_iters (int): Sinkhorn iterations (no early stop), >= 1.
            Defaults to 30.
        normalize_patches (bool): L2-normalise each patch feature.
            Defaults to True.
        plan_scale (str): ``'n'`` (official code) or ``'none'`` (thesis).

    Returns:
        tuple: ``P'`` ``(B, k, d)`` and the plan ``M*`` ``(B, k, n)``
        (unscaled: rows sum to about ``1/k``, columns to ``1/n``), both
        float32 (float64 for float64 inputs), free of NaN/inf for finite
        inputs whatever their spread.
    """
    _check_shape('protos', protos, 3, '(B, k, d)')
    _check_shape('patch_feats', patch_feats, 3, '(B, n, d)')
    if (protos.shape[0] != patch_feats.shape[0]
            or protos.shape[2] != patch_feats.shape[2]):
        raise ValueError(f'protos {tuple(protos.shape)} and patch_feats '
                         f'{tuple(patch_feats.shape)} do not match')
    if plan_scale not in PLAN_SCALES:
        raise ValueError(f'plan_scale must be one of {PLAN_SCALES}, got '
                         f'{plan_scale!r}')
    if not isinstance(num_iters, int) or num_iters < 1:
        raise ValueError(f'num_iters must be an int >= 1, got {num_iters}')
    dtype = _compute_dtype(protos, patch_feats)
    n = patch_feats.shape[1]
    with _no_autocast(protos.device):
        feats = patch_feats.to(dtype)
        if normalize_patches:
            feats = torch.nn.functional.normalize(feats, dim=-1)
        sim = torch.bmm(protos.to(dtype), feats.transpose(1, 2))
        plan, _ = sinkhorn_log(-sim, eps=eps, max_iter=num_iters,
                               stop_rule='none')
        weights = plan * n if plan_scale == 'n' else plan
        return torch.bmm(weights, feats), plan


@torch.no_grad()
def track_objects(protos: torch.Tensor,
                  keys: torch.Tensor,
                  scale: Optional[float] = None) -> torch.Tensor:
    """Cross-attention of the prototypes over each frame's patch keys.

    ``T'_t = softmax_n(P' K~_t^T * scale)`` (thesis Eq. 6.6; with the
    unrefined ``P`` of :func:`discover_prototypes` this is Eq. 6.3, the
    ``use_sk=False`` ablation). The official code uses
    ``scale = d ** -0.5`` with the full width ``d`` (not ``dh``).

    Args:
        protos (Tensor): ``(B, k, d)`` prototypes (of the first frame).
        keys (Tensor): ``(B, T, n, d)`` last-layer patch keys, heads
            concatenated (``concat_heads(k[:, :, 1:])``), or ``(B, n, d)``
            for one frame.
        scale (float, optional): Logit scale. Defaults to ``d ** -0.5``.

    Returns:
        Tensor: ``(B, T, k, n)`` (``(B, k, n)`` for 3-D ``keys``), float32
        (float64 for float64 inputs); each row sums to 1 over ``n``.
    """
    _check_shape('protos', protos, 3, '(B, k, d)')
    if keys.dim() not in (3, 4):
        raise ValueError(f'keys must be (B, T, n, d) or (B, n, d), got '
                         f'{tuple(keys.shape)}')
    if (keys.shape[0] != protos.shape[0]
            or keys.shape[-1] != protos.shape[-1]):
        raise ValueError(f'keys {tuple(keys.shape)} and protos '
                         f'{tuple(protos.shape)} do not match')
    d = protos.shape[-1]
    scale = d**-0.5 if scale is None else float(scale)
    dtype = _compute_dtype(protos, keys)
    with _no_autocast(protos.device):
        p = protos.to(dtype)
        kt = keys.to(dtype).transpose(-1, -2)
        if keys.dim() == 4:
            p = p[:, None]  # (B, 1, k, d) @ (B, T, d, n)
        return torch.softmax(torch.matmul(p, kt) * scale, dim=-1)


def _upsample_nearest(m: torch.Tensor, grid: Tuple[int, int],
                      patch_size: int) -> torch.Tensor:
    """``(..., gh*gw) -> (..., 1, gh*p, gw*p)``, each patch a p x p block."""
    gh, gw = grid
    p = patch_size
    lead = m.shape[:-1]
    m = m.reshape(*lead, gh, 1, gw, 1).expand(*lead, gh, p, gw, p)
    return m.reshape(*lead, 1, gh * p, gw * p)


@torch.no_grad()
def object_masks(
    track: torch.Tensor,
    grid: Sequence[int],
    patch_size: int,
    mode: str = 'binary_sample_mean',
    keep_argmax: bool = True,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Per-object pixel masks from the tracking maps (thesis Eq. 6.7).

    Modes (spec A2):

    * ``'binary_batch_mean'`` (official code): ``r = T'/||T'||_2`` per row,
      and a patch is on when ``r`` exceeds the mean of ``r`` over the whole
      batch and all patches, per frame and object (so the result depends on
      the per-GPU batch);
    * ``'binary_sample_mean'`` (default): the same with the mean over the
      patches of each sample, frame and object (batch independent);
    * ``'soft'``: the thesis' soft mask ``X * T'``, with each row scaled by
      its maximum to ``[0, 1]`` (raw probabilities are about ``1/n``).

    A binary patch is on when ``r > thr * (1 + 1e-5)``: the tiny relative
    margin makes a constant row reliably empty despite rounding in the mean.
    Each patch becomes a ``p x p`` block of pixels (nearest upsampling, as
    ``F.interpolate(scale_factor=p, mode='nearest')``). Masks of different
    objects are independent: they may overlap and need not cover the image.

    Args:
        track (Tensor): ``(B, T, k, n)`` maps (:func:`track_objects`).
        grid (tuple[int, int]): ``(gh, gw)`` patch grid, ``gh*gw = n``.
        patch_size (int): Patch size ``p`` in pixels.
        mode (str): One of :data:`MASK_MODES`.
        keep_argmax (bool): Turn on the arg-max patch of every binary mask,
            so that no mask is empty (spec A20). When False an empty mask
            stays all zeros.

    Returns:
        tuple: masks ``(B, T, k, 1, gh*p, gw*p)`` in ``track``'s floating
        dtype (float32 for other inputs), and 0-dim float32 statistics:
        ``empty_rate`` (fraction of binary masks empty before the guard; 0
        for ``'soft'``), ``coverage`` (mean fraction of pixels kept, the
        mean mask value for ``'soft'``), ``union`` (fraction of pixels in
        some object's mask) and ``overlap`` (fraction in two or more; both
        for masks > 0).
    """
    _check_shape('track', track, 4, '(B, T, k, n)')
    if mode not in MASK_MODES:
        raise ValueError(f'mode must be one of {MASK_MODES}, got {mode!r}')
    gh, gw = (int(g) for g in grid)
    n = track.shape[-1]
    if gh * gw != n:
        raise ValueError(f'grid {gh}x{gw} does not match n={n} patches')
    if not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f'patch_size must be a positive int, got '
                         f'{patch_size}')
    out_dtype = track.dtype if track.is_floating_point() else torch.float32
    dtype = _compute_dtype(track)
    with _no_autocast(track.device):
        t = track.to(dtype)
        if mode == 'soft':
            peak = t.amax(-1, keepdim=True)
            m = torch.where(peak > 0, t / peak.clamp_min(1e-30),
                            torch.zeros_like(t))
            empty_rate = torch.zeros((), device=t.device)
        else:
            r = torch.nn.functional.normalize(t, dim=-1)
            if mode == 'binary_batch_mean':
                thr = r.mean(dim=(0, 3), keepdim=True)  # (1, T, k, 1)
            else:
                thr = r.mean(dim=-1, keepdim=True)  # (B, T, k, 1)
            on = r > thr * (1 + _TIE_RTOL)
            empty_rate = (~on.any(-1)).float().mean()
            if keep_argmax:
                on = on.scatter(-1, t.argmax(-1, keepdim=True), True)
            m = on.to(dtype)
        stats = dict(
            empty_rate=empty_rate,
            coverage=m.mean().float(),
            union=(m > 0).any(2).float().mean(),
            overlap=((m > 0).sum(2) > 1).float().mean())
        masks = _upsample_nearest(m.to(out_dtype), (gh, gw), patch_size)
    return masks, stats


def random_block_masks(batch: int,
                       num_masks: int,
                       grid: Sequence[int],
                       patch_size: int,
                       ratio: Tuple[float, float] = (0.1, 0.5),
                       min_aspect: float = 0.3,
                       generator: Optional[torch.Generator] = None,
                       device=None,
                       min_block: int = 4) -> torch.Tensor:
    """Random block-wise masks, the ``'random_blockwise'`` ablation.

    Replaces DoRA's object masks by iBOT/BEiT-style block masks (Table
    6.7c, spec 3.14): for each of the ``batch * num_masks`` masks, draw a
    target fraction uniformly in ``ratio`` (iBOT: ``0.3 +- 0.2``), then add
    random axis-aligned rectangles of area at least about ``min_block``
    patches and aspect ratio (log-uniform) in ``[min_aspect, 1/min_aspect]``
    while they bring new patches without exceeding the target; stop after
    10 failed placements in a row. Block masking undershoots the target
    slightly, never overshoots it. A mask that got no block keeps one random
    patch (never empty).

    **1 marks the blocks, and the blocks are KEPT**: the result plays the
    role of an object mask (``X * mask`` shows the blocks and zeroes the
    rest).

    Randomness: a Python :class:`random.Random` seeded with one integer
    drawn from ``generator`` (torch's global RNG when None), so the masks
    are a deterministic function of the torch generator state. The loop
    runs on the host (an ablation); the result is moved to ``device`` once.

    Args:
        batch (int): Number of samples (e.g. ``B * T``).
        num_masks (int): Masks per sample (``k``).
        grid (tuple[int, int]): ``(gh, gw)`` patch grid.
        patch_size (int): Patch size ``p`` in pixels.
        ratio (tuple[float, float]): Range of the target masked fraction,
            within ``[0, 1]``. Defaults to ``(0.1, 0.5)``.
        min_aspect (float): Smallest block aspect ratio, in ``(0, 1]``.
        generator (torch.Generator, optional): Source of the seed.
        device (optional): Device of the result. Defaults to the CPU.
        min_block (int): Smallest block area in patches. Defaults to 4
            (BEiT).

    Returns:
        Tensor: float32 ``(batch, num_masks, 1, gh*p, gw*p)`` in ``{0, 1}``,
        constant on each ``p x p`` patch block.
    """
    lo, hi = (float(x) for x in ratio)
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f'ratio must satisfy 0 <= lo <= hi <= 1, got '
                         f'{ratio}')
    if not 0.0 < min_aspect <= 1.0:
        raise ValueError(f'min_aspect must be in (0, 1], got {min_aspect}')
    if batch < 1 or num_masks < 1:
        raise ValueError(f'batch and num_masks must be >= 1, got {batch}, '
                         f'{num_masks}')
    gh, gw = (int(g) for g in grid)
    seed = int(
        torch.randint(0, 2**62, (1, ), generator=generator,
                      device=generator.device if generator is not None
                      else 'cpu'))
    rng = random.Random(seed)
    log_aspect = (math.log(min_aspect), -math.log(min_aspect))
    out = np.zeros((batch * num_masks, gh, gw), dtype=bool)
    for mask in out:
        target = rng.uniform(lo, hi) * gh * gw
        count = 0
        while count < target:
            budget = target - count
            added = 0
            for _ in range(10):
                area = rng.uniform(min(min_block, budget),
                                   max(min_block, budget))
                aspect = math.exp(rng.uniform(*log_aspect))
                h = int(round(math.sqrt(area * aspect)))
                w = int(round(math.sqrt(area / aspect)))
                if not (1 <= h <= gh and 1 <= w <= gw):
                    continue
                top = rng.randint(0, gh - h)
                left = rng.randint(0, gw - w)
                block = mask[top:top + h, left:left + w]
                new = h * w - int(block.sum())
                if 0 < new <= budget:
                    block[...] = True
                    added = new
                    break
            if added == 0:
                break
            count += added
        if count == 0:
            mask[rng.randrange(gh), rng.randrange(gw)] = True
    m = torch.from_numpy(out).view(batch, num_masks, gh * gw)
    m = _upsample_nearest(m.float(), (gh, gw), patch_size)
    return m.to(device) if device is not None else m
