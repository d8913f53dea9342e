"""Pairwise CutMix between two aligned batches (CLIM Eq. 3, spec 3.5).

Unlike batch CutMix, the second image of each pair is given explicitly (the
anchor's positive), not a permutation of the batch. The parameters are split
from the boxes so that one draw can be rendered at several resolutions:
:func:`sample_cutmix_params` draws ``lam`` and a *relative* box centre per
sample, :func:`cutmix_boxes` turns them into integer boxes at a given
``(height, width)`` with the ``rand_bbox`` rule of CutMix (Yun et al., 2019),
and :func:`pairwise_cutmix` pastes the box of ``b`` into ``a`` at the same
coordinates and returns the exact (area-corrected) fraction of ``a``.

Example (``anchor[r]`` and ``positive[r]`` are ``(b, C, r, r)`` views)::

    lam, centers = sample_cutmix_params(b, alpha=2.0)
    for r in (224, 160):
        boxes = cutmix_boxes(lam, centers, r, r)
        x_mix, lam_hat = pairwise_cutmix(anchor[r], positive[r], boxes)
"""
from typing import Optional, Tuple

import numpy as np
import torch


def _check_prob(prob: float) -> float:
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f'prob must be in [0, 1], got {prob}')
    return float(prob)


def sample_cutmix_params(
        batch_size: int,
        alpha: float = 2.0,
        per_batch: bool = False,
        prob: float = 1.0,
        generator: Optional[torch.Generator] = None,
        device=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Draw CutMix ratios and relative box centres.

    ``lam ~ Beta(alpha, alpha)`` and the centre ``(cy, cx) ~ U[0, 1)^2`` are
    drawn per sample, or once for the whole batch when ``per_batch`` (one box
    per batch, as in the CutMix reference code). With probability
    ``1 - prob`` a sample (the batch when ``per_batch``) is left unmixed,
    i.e. its ``lam`` is 1 and its box empty.

    Randomness: ``torch.distributions.Beta`` takes no generator, so the Beta
    draws come from a :class:`numpy.random.Generator` seeded with one 63-bit
    integer drawn from ``generator`` (torch's global RNG when None); centres
    and the ``prob`` decisions are drawn from ``generator`` directly. The
    result is thus a deterministic function of the torch generator state
    (``torch.manual_seed`` when no generator is given), and does not touch
    numpy's global RNG.

    Args:
        batch_size (int): Number of pairs, >= 1.
        alpha (float): Beta concentration, > 0. Defaults to 2.0 (CLIM).
        per_batch (bool): Share one ``lam`` and centre across the batch.
            Defaults to False.
        prob (float): Probability of mixing a sample, in [0, 1].
            Defaults to 1.0.
        generator (torch.Generator, optional): Source of randomness.
        device (torch.device | str, optional): Device of the outputs.
            Defaults to the CPU.

    Returns:
        tuple[Tensor, Tensor]: ``lam`` of shape ``(b, )`` and ``centers`` of
        shape ``(b, 2)`` holding relative ``(cy, cx)`` in [0, 1), both
        float32.
    """
    if isinstance(batch_size, bool) or int(batch_size) != batch_size \
            or batch_size < 1:
        raise ValueError(f'batch_size must be an int >= 1, got {batch_size}')
    batch_size = int(batch_size)
    if not alpha > 0:
        raise ValueError(f'alpha must be > 0, got {alpha}')
    prob = _check_prob(prob)

    gen_device = generator.device if generator is not None else 'cpu'
    n = 1 if per_batch else batch_size
    seed = torch.randint(
        0, 2**63 - 1, (1, ), generator=generator, device=gen_device).item()
    lam = np.random.default_rng(seed).beta(alpha, alpha, size=n)
    lam = torch.from_numpy(lam).float()
    centers = torch.rand(
        n, 2, generator=generator, device=gen_device).float().cpu()
    if prob < 1.0:
        keep = torch.rand(n, generator=generator, device=gen_device).cpu()
        lam = torch.where(keep < prob, lam, torch.ones_like(lam))
    if per_batch:
        lam = lam.expand(batch_size).contiguous()
        centers = centers.expand(batch_size, 2).contiguous()
    return lam.to(device), centers.to(device)


def cutmix_boxes(lam: torch.Tensor, centers: torch.Tensor, height: int,
                 width: int) -> torch.Tensor:
    """Integer CutMix boxes at one resolution (the ``rand_bbox`` rule).

    With ``cut_h = int(H * sqrt(1 - lam))``, ``cy = floor(cy_rel * H)``:
    ``y1 = clip(cy - cut_h // 2, 0, H)``, ``y2 = clip(cy + cut_h // 2, 0, H)``
    and the same for ``x`` with ``W``. The box centre is uniform over the
    pixel grid and the box is clipped at the border, so the pasted area may
    be smaller than ``1 - lam`` (see :func:`pairwise_cutmix`). Calling this at
    several resolutions with the same ``(lam, centers)`` gives boxes at the
    same relative position and size, up to integer rounding.

    Args:
        lam (Tensor): ``(b, )`` ratios in [0, 1].
        centers (Tensor): ``(b, 2)`` relative ``(cy, cx)`` in [0, 1).
        height (int): Image height ``H``, >= 1.
        width (int): Image width ``W``, >= 1.

    Returns:
        Tensor: ``(b, 4)`` int64 boxes ``(y1, y2, x1, x2)``, half-open
        (rows ``y1 <= y < y2``), on the device of ``lam``.
    """
    if height < 1 or width < 1:
        raise ValueError(
            f'height and width must be >= 1, got {(height, width)}')
    if lam.ndim != 1 or centers.shape != (lam.shape[0], 2):
        raise ValueError('expected lam (b,) and centers (b, 2), got '
                         f'{tuple(lam.shape)} and {tuple(centers.shape)}')
    lam = lam.double()
    centers = centers.to(lam.device, torch.float64)
    cut_rat = torch.sqrt((1.0 - lam).clamp(0.0, 1.0))
    size = torch.tensor([height, width], dtype=torch.float64,
                        device=lam.device)
    half = torch.floor(cut_rat[:, None] * size).long() // 2  # (b, 2)
    upper = size.long()
    center = torch.floor(centers * size).long()
    center = torch.minimum(center.clamp(min=0), upper - 1)
    low = torch.minimum((center - half).clamp(min=0), upper)
    high = torch.minimum((center + half).clamp(min=0), upper)
    return torch.stack([low[:, 0], high[:, 0], low[:, 1], high[:, 1]], 1)


def pairwise_cutmix(a: torch.Tensor, b: torch.Tensor,
                    boxes: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Paste the box of ``b`` into ``a`` at the same coordinates.

    ``mixed = M * a + (1 - M) * b`` with the binary mask ``M`` equal to 0
    inside the box. The inputs are not modified; the output is a new tensor
    (built with :func:`torch.where`, so gradients flow to ``a`` outside the
    box and to ``b`` inside it if they require grad). Because ``M`` is binary,
    mixing commutes with any per-channel affine normalisation.

    Args:
        a (Tensor): ``(b, ..., H, W)`` images kept outside the box.
        b (Tensor): Images pasted inside the box, same shape as ``a``.
        boxes (Tensor): ``(b, 4)`` integer boxes ``(y1, y2, x1, x2)`` as
            returned by :func:`cutmix_boxes` for ``(H, W)``.

    Returns:
        tuple[Tensor, Tensor]: The mixed images, same shape and dtype as
        ``a``, and ``lam_hat`` ``(b, )`` float32, the exact fraction of
        pixels from ``a``: ``1 - (y2 - y1) * (x2 - x1) / (H * W)``.
    """
    if a.shape != b.shape:
        raise ValueError(
            f'a and b must have the same shape, got {tuple(a.shape)} '
            f'and {tuple(b.shape)}')
    if a.ndim < 3:
        raise ValueError(f'expected a (b, ..., H, W) tensor, got {a.ndim}-D')
    n, h, w = a.shape[0], a.shape[-2], a.shape[-1]
    if boxes.shape != (n, 4):
        raise ValueError(
            f'boxes must have shape ({n}, 4), got {tuple(boxes.shape)}')
    boxes = boxes.to(a.device, torch.long)
    y1, y2, x1, x2 = boxes.unbind(1)
    rows = torch.arange(h, device=a.device)
    cols = torch.arange(w, device=a.device)
    in_y = (rows >= y1[:, None]) & (rows < y2[:, None])  # (b, H)
    in_x = (cols >= x1[:, None]) & (cols < x2[:, None])  # (b, W)
    inside = in_y[:, :, None] & in_x[:, None, :]  # (b, H, W)
    inside = inside.view((n, ) + (1, ) * (a.ndim - 3) + (h, w))
    mixed = torch.where(inside, b, a)
    area = ((y2 - y1).clamp(min=0) * (x2 - x1).clamp(min=0)).float()
    lam_hat = 1.0 - area / float(h * w)
    return mixed, lam_hat
